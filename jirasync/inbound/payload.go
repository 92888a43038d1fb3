// Package inbound receives Jira webhooks for destinations with two-way
// sync and applies what changed in Jira to the linked alerts: status,
// assignee and comments. It verifies each delivery's signature, ignores
// replays, and ignores changes alertbridge itself made in Jira, so that
// sync never loops.
package inbound

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/alertbridge/alertbridge/alert"
	"github.com/alertbridge/alertbridge/jira"
	"github.com/alertbridge/alertbridge/jira/adf"
	"github.com/alertbridge/alertbridge/jira/wiki"
)

// Event kinds (webhookEvent) the receiver acts on.
const (
	EventIssueUpdated   = "jira:issue_updated"
	EventCommentCreated = "comment_created"
	EventCommentUpdated = "comment_updated"
)

// Event is the part of a Jira webhook the receiver needs, in one shape for
// Cloud (accountId, ADF or string bodies) and Server / Data Center (name and
// key, wiki bodies).
type Event struct {
	Kind      string // webhookEvent; empty in some captured payloads
	IssueType string // issue_event_type_name, such as issue_commented
	User      *jira.User
	Issue     Issue
	Changes   []Change
	Comment   *Comment
}

// Issue identifies the issue an event is about.
type Issue struct {
	ID, Key string
	// Status is the issue's status after the change, when the payload has
	// the issue's fields.
	StatusID, StatusName, StatusCategory string
	Assignee                             *jira.User
}

// Change is one changelog item.
type Change struct {
	Field, FieldID       string
	From, To             string
	FromString, ToString string
}

// Is reports whether the change is to the named system field. Older
// payloads lack fieldId and some capitalise the field ("Status").
func (c Change) Is(field string) bool {
	return c.FieldID == field || (c.FieldID == "" && strings.EqualFold(c.Field, field))
}

// Comment is a Jira comment with its body converted to Markdown.
type Comment struct {
	ID           string
	Author       *jira.User
	UpdateAuthor *jira.User
	Markdown     string
}

// ParseError says which part of a payload is malformed.
type ParseError struct {
	Field string
	Err   error
}

func (e *ParseError) Error() string {
	if e.Field == "" {
		return e.Err.Error()
	}
	return e.Field + ": " + e.Err.Error()
}

func (e *ParseError) Unwrap() error { return e.Err }

// text is a JSON value read as a string: Jira sends ids and changelog values
// as strings, but null is common and some samples carry numbers.
type text string

func (t *text) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*t = ""
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*t = text(s)
	case len(b) > 0 && (b[0] == '-' || (b[0] >= '0' && b[0] <= '9')):
		*t = text(b)
	default:
		// A type error lets encoding/json add the field's path.
		kind := "value"
		if len(b) > 0 {
			kind = map[byte]string{'{': "object", '[': "array", 't': "bool", 'f': "bool"}[b[0]]
		}
		return &json.UnmarshalTypeError{Value: kind, Type: reflect.TypeFor[string]()}
	}
	return nil
}

type rawUser struct {
	AccountID    text `json:"accountId"`
	Name         text `json:"name"`
	Key          text `json:"key"`
	EmailAddress text `json:"emailAddress"`
	DisplayName  text `json:"displayName"`
}

func (u *rawUser) user() *jira.User {
	if u == nil {
		return nil
	}
	out := &jira.User{AccountID: string(u.AccountID), Name: string(u.Name), Key: string(u.Key),
		EmailAddress: string(u.EmailAddress), DisplayName: string(u.DisplayName)}
	if *out == (jira.User{}) {
		return nil
	}
	return out
}

type rawPayload struct {
	WebhookEvent text     `json:"webhookEvent"`
	EventType    text     `json:"issue_event_type_name"`
	User         *rawUser `json:"user"`
	Issue        *struct {
		ID     text `json:"id"`
		Key    text `json:"key"`
		Fields *struct {
			Status *struct {
				ID             text `json:"id"`
				Name           text `json:"name"`
				StatusCategory *struct {
					Key text `json:"key"`
				} `json:"statusCategory"`
			} `json:"status"`
			Assignee *rawUser `json:"assignee"`
		} `json:"fields"`
	} `json:"issue"`
	Changelog *struct {
		Items []struct {
			Field      text `json:"field"`
			FieldID    text `json:"fieldId"`
			From       text `json:"from"`
			To         text `json:"to"`
			FromString text `json:"fromString"`
			ToString   text `json:"toString"`
		} `json:"items"`
	} `json:"changelog"`
	Comment *struct {
		ID           text            `json:"id"`
		Self         text            `json:"self"`
		Author       *rawUser        `json:"author"`
		UpdateAuthor *rawUser        `json:"updateAuthor"`
		Body         json.RawMessage `json:"body"`
	} `json:"comment"`
}

// Parse reads a webhook body. It is lenient where Jira's payloads vary
// (nulls, numbers for ids, string or number timestamps, which it ignores)
// and says which field is wrong where the shape is not a Jira webhook's.
func Parse(body []byte) (*Event, error) {
	// Jira sends UTF-8. encoding/json would quietly turn other bytes into
	// U+FFFD, so that text would be stored other than Jira holds it.
	if !utf8.Valid(body) {
		return nil, &ParseError{Err: fmt.Errorf("body %w", alert.ErrInvalidUTF8)}
	}
	var p rawPayload
	if err := json.Unmarshal(body, &p); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return nil, &ParseError{Field: te.Field, Err: fmt.Errorf("is a JSON %s, which a Jira webhook never has there", te.Value)}
		}
		return nil, &ParseError{Err: fmt.Errorf("body is not a Jira webhook JSON object: %w", err)}
	}
	ev := &Event{Kind: string(p.WebhookEvent), IssueType: string(p.EventType), User: p.User.user()}
	if p.Issue != nil {
		ev.Issue.ID, ev.Issue.Key = string(p.Issue.ID), string(p.Issue.Key)
		if f := p.Issue.Fields; f != nil {
			if s := f.Status; s != nil {
				ev.Issue.StatusID, ev.Issue.StatusName = string(s.ID), string(s.Name)
				if s.StatusCategory != nil {
					ev.Issue.StatusCategory = string(s.StatusCategory.Key)
				}
			}
			ev.Issue.Assignee = f.Assignee.user()
		}
	}
	if p.Changelog != nil {
		for _, it := range p.Changelog.Items {
			ev.Changes = append(ev.Changes, Change{Field: string(it.Field), FieldID: string(it.FieldID),
				From: string(it.From), To: string(it.To), FromString: string(it.FromString), ToString: string(it.ToString)})
		}
	}
	if c := p.Comment; c != nil {
		// Checked before conversion, which turns a NUL into U+FFFD: the
		// comment would be stored other than Jira holds it, with no word.
		if path, err := alert.CheckJSON(c.Body); err != nil {
			return nil, &ParseError{Field: alert.JoinPath("comment.body", path), Err: err}
		}
		md, err := bodyMarkdown(c.Body)
		if err != nil {
			return nil, &ParseError{Field: "comment.body", Err: err}
		}
		ev.Comment = &Comment{ID: string(c.ID), Author: c.Author.user(), UpdateAuthor: c.UpdateAuthor.user(), Markdown: md}
		// Comment events on Server (and some on Cloud) carry no issue; the
		// comment's self link names it: …/rest/api/2/issue/{id}/comment/{id}.
		if ev.Issue.ID == "" && ev.Issue.Key == "" {
			ev.Issue.ID = issueFromSelf(string(c.Self))
		}
	}
	self := ""
	if p.Comment != nil {
		self = string(p.Comment.Self)
	}
	if err := ev.checkText(self); err != nil {
		return nil, err
	}
	return ev, nil
}

// checkText refuses an event carrying text alertbridge cannot store
// (alert.CheckText), naming the field as the payload does. Every text of
// the event is looked up or stored (issue keys, authors, comment bodies,
// changelog values on the timeline), and PostgreSQL refuses NUL and invalid
// UTF-8 even in a lookup, where SQLite would not: the same webhook would be
// a 500 on one database, retried by Jira, and a 204 on the other.
func (ev *Event) checkText(self string) error {
	var bad *ParseError
	check := func(field, value string) {
		if err := alert.CheckText(value); err != nil && bad == nil {
			bad = &ParseError{Field: field, Err: err}
		}
	}
	user := func(prefix string, u *jira.User) {
		if u != nil {
			check(prefix+".accountId", u.AccountID)
			check(prefix+".name", u.Name)
			check(prefix+".key", u.Key)
			check(prefix+".emailAddress", u.EmailAddress)
			check(prefix+".displayName", u.DisplayName)
		}
	}
	check("webhookEvent", ev.Kind)
	check("issue_event_type_name", ev.IssueType)
	user("user", ev.User)
	check("issue.id", ev.Issue.ID)
	check("issue.key", ev.Issue.Key)
	check("issue.fields.status.id", ev.Issue.StatusID)
	check("issue.fields.status.name", ev.Issue.StatusName)
	check("issue.fields.status.statusCategory.key", ev.Issue.StatusCategory)
	user("issue.fields.assignee", ev.Issue.Assignee)
	for i, c := range ev.Changes {
		item := fmt.Sprintf("changelog.items[%d]", i)
		check(item+".field", c.Field)
		check(item+".fieldId", c.FieldID)
		check(item+".from", c.From)
		check(item+".to", c.To)
		check(item+".fromString", c.FromString)
		check(item+".toString", c.ToString)
	}
	if c := ev.Comment; c != nil {
		check("comment.id", c.ID)
		check("comment.self", self)
		user("comment.author", c.Author)
		user("comment.updateAuthor", c.UpdateAuthor)
		check("comment.body", c.Markdown)
	}
	if bad != nil {
		return bad
	}
	return nil
}

// bodyMarkdown converts a comment body: a wiki-markup string (Server, and
// Cloud webhooks, which use the v2 representation) or an ADF document.
func bodyMarkdown(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return "", nil
	}
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", fmt.Errorf("bad string: %w", err)
		}
		return strings.TrimSpace(wiki.ToMarkdown(s)), nil
	case '{':
		doc, err := adf.Parse(raw)
		if err != nil {
			return "", err
		}
		return strings.TrimSpace(adf.ToMarkdown(doc)), nil
	}
	return "", errors.New("want a wiki-markup string or an ADF document")
}

func issueFromSelf(self string) string {
	u, err := url.Parse(self)
	if err != nil {
		return ""
	}
	parts := strings.Split(u.Path, "/")
	for i := 0; i+3 < len(parts); i++ {
		if parts[i] == "issue" && parts[i+2] == "comment" {
			return parts[i+1]
		}
	}
	return ""
}
