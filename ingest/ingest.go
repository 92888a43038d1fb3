// Package ingest turns the alert payloads alertbridge accepts into alerts:
// Panther's destination schema, Alertmanager's webhook (version 4) and
// Grafana's webhook contact point (version "1"). It is pure: bytes in,
// alerts or a FieldError naming what is wrong out.
package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/alertbridge/alertbridge/alert"
)

// FieldError is a problem with one field of the input. Field is a JSON path
// such as "severity" or "alerts[2].fingerprint"; empty for the body as a
// whole. It is the alert package's, so that a parser's own checks and
// Alert.Validate give the caller one kind of error.
type FieldError = alert.FieldError

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// Limits on what one alert may carry.
const (
	MaxIDLen    = 256
	MaxTitleLen = 4096
	MaxTextLen  = 65536
	MaxTags     = 100
)

// decodeStrict decodes one JSON object into v, rejecting unknown fields and
// trailing data, and reports problems by field.
func decodeStrict(body []byte, v any, prefix string) error {
	return decodeObject(body, v, prefix, true)
}

// decodeLenient is decodeStrict for machine senders that add fields in new
// versions: a field we do not know is ignored rather than refused, so an
// upgrade on their side never costs an alert.
func decodeLenient(body []byte, v any, prefix string) error {
	return decodeObject(body, v, prefix, false)
}

func decodeObject(body []byte, v any, prefix string, strict bool) error {
	if !utf8.Valid(body) {
		return fieldErr("", "body is not valid UTF-8")
	}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return fieldErr("", "body is empty; want a JSON object")
	}
	if trimmed[0] != '{' {
		if prefix == "" {
			return fieldErr("", "body must be a JSON object")
		}
		return fieldErr(prefix, "must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		return jsonError(err, prefix)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fieldErr(prefix, "unexpected data after the JSON object")
	}
	return nil
}

// jsonError names the field of an encoding/json error.
func jsonError(err error, prefix string) error {
	var (
		syntax *json.SyntaxError
		typ    *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &syntax):
		return fieldErr("", "malformed JSON at byte %d: %v", syntax.Offset, syntax)
	case errors.As(err, &typ):
		return fieldErr(alert.JoinPath(prefix, typ.Field), "must be %s, not %s", describe(typ.Type.String()), typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fieldErr("", "malformed JSON: unexpected end of body")
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return fieldErr(alert.JoinPath(prefix, strings.Trim(name, `"`)), "unknown field")
	}
	return fieldErr("", "malformed JSON: %v", err)
}

func describe(goType string) string {
	switch {
	case goType == "string" || goType == "*string":
		return "a string"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	case strings.HasPrefix(goType, "map["), strings.HasPrefix(goType, "ingest."), goType == "json.RawMessage":
		return "an object"
	case strings.Contains(goType, "int"), strings.Contains(goType, "float"):
		return "a number"
	case goType == "bool":
		return "a boolean"
	}
	return goType
}

// checkID accepts identifiers that are safe in a URL path segment and a log line.
func checkID(field, s string) error {
	switch {
	case s == "":
		return fieldErr(field, "required")
	case len(s) > MaxIDLen:
		return fieldErr(field, "longer than %d characters", MaxIDLen)
	case strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) || r == '/' }):
		return fieldErr(field, "must not contain control characters or '/'")
	case strings.TrimSpace(s) != s:
		// " abc" and "abc" would be two alerts that look the same in every list.
		return fieldErr(field, "must not be blank or start or end with white space")
	case s == "." || s == "..":
		// HTTP routers clean dot segments out of paths, so /api/v1/alerts/..
		// could never address the alert.
		return fieldErr(field, "must not be %q", s)
	}
	return nil
}

// parseTime reads an RFC 3339 date-time as UTC. The year must stay within
// 1..9999 in UTC: an offset can push 9999-12-31 into year 10000, which
// time.Time refuses to marshal, so such an alert could never be stored or sent.
func parseTime(field, s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fieldErr(field, "must be an RFC 3339 date-time such as 2026-11-21T10:00:00Z")
	}
	t = t.UTC()
	if y := t.Year(); y < 1 || y > 9999 {
		return time.Time{}, fieldErr(field, "must be between years 1 and 9999 in UTC")
	}
	return t, nil
}

func checkText(field, s string, limit int) error {
	if len(s) > limit {
		return fieldErr(field, "longer than %d bytes", limit)
	}
	return nil
}

func checkURL(field, s string) error {
	if s == "" {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fieldErr(field, "must be an absolute http or https URL")
	}
	return nil
}

func checkObject(field string, raw json.RawMessage) error {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || string(t) == "null" {
		return nil
	}
	if t[0] != '{' {
		return fieldErr(field, "must be an object")
	}
	return nil
}

func checkStrings(field string, ss []string, maxN int) error {
	if len(ss) > maxN {
		return fieldErr(field, "more than %d entries", maxN)
	}
	for i, s := range ss {
		if strings.TrimSpace(s) == "" {
			return fieldErr(fmt.Sprintf("%s[%d]", field, i), "must not be empty")
		}
		if len(s) > MaxIDLen {
			return fieldErr(fmt.Sprintf("%s[%d]", field, i), "longer than %d characters", MaxIDLen)
		}
	}
	return nil
}

// namedText is one string field of an input, for checkTexts.
type namedText struct{ field, value string }

// checkTexts names the first field holding text alertbridge cannot store
// (alert.CheckText).
func checkTexts(prefix string, fields []namedText) error {
	for _, f := range fields {
		if err := alert.CheckText(f.value); err != nil {
			return fieldErr(alert.JoinPath(prefix, f.field), "%v", err)
		}
	}
	return nil
}

// checkMap is checkTexts for a map such as labels: a bad value is named by
// its key ("labels.team"), a bad key by the map and the key quoted.
func checkMap(field string, m map[string]string) error {
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if err := alert.CheckText(k); err != nil {
			return fieldErr(field, "the key %s %v", strconv.Quote(k), err)
		}
		if err := alert.CheckText(m[k]); err != nil {
			return fieldErr(field+"."+k, "%v", err)
		}
	}
	return nil
}
