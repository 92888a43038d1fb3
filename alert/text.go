package alert

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// FieldError is a problem with one field of an input. Field is a JSON path
// such as "severity" or "alerts[2].labels.team"; empty for the input as a
// whole. The API answers it with 400 invalid_field naming Field.
type FieldError struct {
	Field   string
	Message string
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

// Text that cannot be stored. PostgreSQL's text type refuses both (SQLSTATE
// 22021) where SQLite keeps them, so without this check the same request
// would be a 500 on one database and a 2xx on the other. Neither has a use
// in an alert: a NUL is never meant, and invalid UTF-8 cannot be shown,
// sent to Jira or compared with what a person types.
var (
	ErrNUL         = errors.New("contains a NUL character (U+0000)")
	ErrInvalidUTF8 = errors.New("is not valid UTF-8")
)

// CheckText says why s cannot be text alertbridge stores, or returns nil.
func CheckText(s string) error {
	if strings.IndexByte(s, 0) >= 0 {
		return ErrNUL
	}
	if !utf8.ValidString(s) {
		return ErrInvalidUTF8
	}
	return nil
}

// CheckJSON finds the first key or string value of a JSON document that
// CheckText refuses, and returns its path ("a.b[2]", "" for the document
// itself or a bad key of a top-level object). A document that is not JSON
// is an error at path "".
func CheckJSON(raw []byte) (string, error) {
	if !utf8.Valid(raw) {
		return "", ErrInvalidUTF8
	}
	// A NUL can only be in a JSON string as the escape \u0000 (a raw one
	// is malformed JSON), so most documents need no walk.
	if !bytes.Contains(raw, []byte(`\u0000`)) {
		return "", nil
	}
	return walkJSON(raw)
}

// frame is one open object or array while walking a document.
type frame struct {
	object  bool
	key     string // object: the current member's name
	wantKey bool   // object: the next string is a member name
	index   int    // array: the next element's index
}

func walkJSON(raw []byte) (string, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var stack []frame
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return "", nil
		}
		if err != nil {
			return "", fmt.Errorf("not JSON: %w", err)
		}
		var top *frame
		if len(stack) > 0 {
			top = &stack[len(stack)-1]
		}
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{', '[':
				stack = append(stack, frame{object: d == '{', wantKey: true})
			default:
				stack = stack[:len(stack)-1]
				valueDone(stack)
			}
			continue
		}
		s, isString := tok.(string)
		if top != nil && top.object && top.wantKey {
			if err := CheckText(s); err != nil {
				return pathOf(stack[:len(stack)-1]), fmt.Errorf("the key %s %w", strconv.Quote(s), err)
			}
			top.key, top.wantKey = s, false
			continue
		}
		if isString {
			if err := CheckText(s); err != nil {
				return pathOf(stack), err
			}
		}
		valueDone(stack)
	}
}

// valueDone moves the innermost container past the value just read.
func valueDone(stack []frame) {
	if len(stack) == 0 {
		return
	}
	top := &stack[len(stack)-1]
	if top.object {
		top.wantKey = true
	} else {
		top.index++
	}
}

// pathOf names the value being read: member names joined by dots, array
// elements by index.
func pathOf(stack []frame) string {
	var b strings.Builder
	for _, f := range stack {
		if f.object {
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(f.key)
		} else {
			fmt.Fprintf(&b, "[%d]", f.index)
		}
	}
	return b.String()
}

// Validate checks that every text of the alert can be stored, naming the
// first that cannot by its JSON name. Every source of alerts (the API,
// Alertmanager, detections) produces an Alert, so this is where the rule
// lives; sources that know their own input's names check that first.
func (a *Alert) Validate() error {
	fields := []struct {
		name  string
		value string
	}{
		{"alertId", a.AlertID}, {"id", a.ID}, {"title", a.Title}, {"name", a.Name},
		{"description", a.Description}, {"runbook", a.Runbook}, {"link", a.Link}, {"version", a.Version},
		{"severity", string(a.Severity)}, {"type", string(a.Type)}, {"staticSeverity", string(a.StaticSeverity)},
		{"source", string(a.Source)}, {"status", string(a.Status)}, {"assignee", a.Assignee},
	}
	for _, f := range fields {
		if err := CheckText(f.value); err != nil {
			return &FieldError{Field: f.name, Message: err.Error()}
		}
	}
	lists := []struct {
		name   string
		values []string
	}{
		{"tags", a.Tags}, {"logTypes", a.LogTypes}, {"destinations", a.Destinations}, {"destinationOverride", a.DestinationOverride},
	}
	for _, l := range lists {
		for i, v := range l.values {
			if err := CheckText(v); err != nil {
				return &FieldError{Field: fmt.Sprintf("%s[%d]", l.name, i), Message: err.Error()}
			}
		}
	}
	if a.Detection != nil {
		if err := CheckText(a.Detection.Dedup); err != nil {
			return &FieldError{Field: "detection.dedup", Message: err.Error()}
		}
	}
	if len(a.Context) > 0 {
		path, err := CheckJSON(a.Context)
		if err != nil {
			return &FieldError{Field: JoinPath("alertContext", path), Message: err.Error()}
		}
	}
	return nil
}

// JoinPath joins two parts of a field's path with a dot, either may be empty.
func JoinPath(prefix, field string) string {
	switch {
	case prefix == "":
		return field
	case field == "":
		return prefix
	}
	return prefix + "." + field
}

// CleanText is s with each NUL and each invalid UTF-8 sequence replaced by
// U+FFFD, for text alertbridge makes itself from what it cannot refuse: a
// rule's title built from an event, say. Input from a sender is refused
// instead (CheckText).
func CleanText(s string) string {
	if CheckText(s) == nil {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// Sanitize cleans every text Validate checks but the context, whose JSON
// holds a NUL only as the escape \u0000, which both databases store.
func (a *Alert) Sanitize() {
	for _, p := range []*string{&a.AlertID, &a.ID, &a.Title, &a.Name, &a.Description, &a.Runbook, &a.Link, &a.Version, &a.Assignee} {
		*p = CleanText(*p)
	}
	for _, l := range [][]string{a.Tags, a.LogTypes, a.Destinations, a.DestinationOverride} {
		for i := range l {
			l[i] = CleanText(l[i])
		}
	}
	if a.Detection != nil {
		a.Detection.Dedup = CleanText(a.Detection.Dedup)
	}
}
