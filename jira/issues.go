package jira

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// Myself returns the user the client authenticates as; a cheap credentials
// check.
func (c *Client) Myself(ctx context.Context) (*User, error) {
	p, d, err := c.api(ctx)
	if err != nil {
		return nil, err
	}
	var u User
	if err := c.do(ctx, call{kind: KindMyself, method: http.MethodGet, path: p + "/myself", out: &u, dep: d}); err != nil {
		return nil, err
	}
	return &u, nil
}

type entityProperty struct {
	Key   string `json:"key"`
	Value any    `json:"value"`
}

// CreateIssue creates an issue. fields must already be in the deployment's
// representation (on Cloud the description is an ADF document, on DC a wiki
// string). properties are issue properties set atomically with the create;
// alertbridge puts its idempotency marker there.
func (c *Client) CreateIssue(ctx context.Context, fields map[string]any, properties map[string]any) (*IssueRef, error) {
	p, d, err := c.api(ctx)
	if err != nil {
		return nil, err
	}
	in := struct {
		Fields     map[string]any   `json:"fields"`
		Properties []entityProperty `json:"properties,omitempty"`
	}{Fields: fields}
	for _, k := range sortedAnyKeys(properties) {
		in.Properties = append(in.Properties, entityProperty{Key: k, Value: properties[k]})
	}
	var ref IssueRef
	if err := c.do(ctx, call{kind: KindCreate, method: http.MethodPost, path: p + "/issue", in: in, out: &ref, project: projectKey(fields), dep: d}); err != nil {
		return nil, err
	}
	return &ref, nil
}

// projectKey digs the project key out of create fields for the 403 hint.
func projectKey(fields map[string]any) string {
	switch v := fields["project"].(type) {
	case map[string]any:
		for _, k := range []string{"key", "id"} {
			if s, ok := v[k].(string); ok {
				return s
			}
		}
	case map[string]string:
		if v["key"] != "" {
			return v["key"]
		}
		return v["id"]
	case string:
		return v
	}
	return ""
}

// GetIssue reads an issue; fields limits which fields come back (all when
// empty).
func (c *Client) GetIssue(ctx context.Context, key string, fields ...string) (*Issue, error) {
	p, d, err := c.api(ctx)
	if err != nil {
		return nil, err
	}
	var q url.Values
	if len(fields) > 0 {
		q = url.Values{"fields": {strings.Join(fields, ",")}}
	}
	var is Issue
	if err := c.do(ctx, call{kind: KindGet, method: http.MethodGet, path: issuePath(p, key), query: q, out: &is, dep: d}); err != nil {
		return nil, err
	}
	return &is, nil
}

// EditIssue sets the given fields and leaves the others alone, so edits a
// person made in Jira to other fields survive.
func (c *Client) EditIssue(ctx context.Context, key string, fields map[string]any) error {
	p, d, err := c.api(ctx)
	if err != nil {
		return err
	}
	in := map[string]any{"fields": fields}
	return c.do(ctx, call{kind: KindEdit, method: http.MethodPut, path: issuePath(p, key), in: in, dep: d})
}

// SearchJQL returns up to max issues (50 when max ≤ 0) matching jql, with the
// given fields. Cloud uses /rest/api/3/search/jql (the old /search answers
// 410 Gone there); DC uses /rest/api/2/search. Results may lag recent writes
// on Cloud: the search index is eventually consistent.
func (c *Client) SearchJQL(ctx context.Context, jql string, fields []string, max int) ([]Issue, error) {
	p, d, err := c.api(ctx)
	if err != nil {
		return nil, err
	}
	if max <= 0 {
		max = 50
	}
	var out []Issue
	if d == DeploymentCloud {
		token := ""
		for len(out) < max {
			in := map[string]any{"jql": jql, "maxResults": min(max-len(out), 100)}
			if len(fields) > 0 {
				in["fields"] = fields
			}
			if token != "" {
				in["nextPageToken"] = token
			}
			var page struct {
				Issues        []Issue `json:"issues"`
				NextPageToken string  `json:"nextPageToken"`
				IsLast        *bool   `json:"isLast"`
			}
			if err := c.do(ctx, call{kind: KindSearch, method: http.MethodPost, path: p + "/search/jql", in: in, out: &page, dep: d}); err != nil {
				return nil, err
			}
			out = append(out, page.Issues...)
			if page.NextPageToken == "" || (page.IsLast != nil && *page.IsLast) || len(page.Issues) == 0 {
				break
			}
			token = page.NextPageToken
		}
	} else {
		for len(out) < max {
			in := map[string]any{"jql": jql, "startAt": len(out), "maxResults": min(max-len(out), 100)}
			if len(fields) > 0 {
				in["fields"] = fields
			}
			var page struct {
				Issues []Issue `json:"issues"`
				Total  int     `json:"total"`
			}
			if err := c.do(ctx, call{kind: KindSearch, method: http.MethodPost, path: p + "/search", in: in, out: &page, dep: d}); err != nil {
				return nil, err
			}
			out = append(out, page.Issues...)
			if len(page.Issues) == 0 || len(out) >= page.Total {
				break
			}
		}
	}
	if len(out) > max {
		out = out[:max]
	}
	return out, nil
}

// Transitions lists the transitions the issue can take now.
func (c *Client) Transitions(ctx context.Context, key string) ([]Transition, error) {
	p, d, err := c.api(ctx)
	if err != nil {
		return nil, err
	}
	var out struct {
		Transitions []Transition `json:"transitions"`
	}
	if err := c.do(ctx, call{kind: KindTransitions, method: http.MethodGet, path: issuePath(p, key, "transitions"), out: &out, dep: d}); err != nil {
		return nil, err
	}
	return out.Transitions, nil
}

// DoTransition moves the issue through one transition.
func (c *Client) DoTransition(ctx context.Context, key, transitionID string) error {
	p, d, err := c.api(ctx)
	if err != nil {
		return err
	}
	in := map[string]any{"transition": map[string]string{"id": transitionID}}
	return c.do(ctx, call{kind: KindTransition, method: http.MethodPost, path: issuePath(p, key, "transitions"), in: in, dep: d})
}

// AddComment adds a comment; body is an ADF document (*adf.Node) on Cloud and
// a wiki-markup string on DC.
func (c *Client) AddComment(ctx context.Context, key string, body any) (*Comment, error) {
	return c.addComment(ctx, key, body, nil)
}

// Jira's limits on an entity property.
const (
	maxPropertyKey   = 255
	maxPropertyValue = 32768
)

// AddCommentWithProperty adds a comment carrying the comment property
// propKey, set in the same request: if Jira stores the comment but the
// answer is lost, the property is already there for a lookup (Comments) to
// find, so a retry can tell whether the comment landed.
//
// propValue must encode to a JSON object, on both deployments. Cloud takes
// any JSON value, but Data Center's comment create casts each property value
// to an object (its OpenAPI spec says string, which it would reject), so an
// object is the one shape both keep.
func (c *Client) AddCommentWithProperty(ctx context.Context, key string, body any, propKey string, propValue any) (*Comment, error) {
	if propKey == "" || len(propKey) > maxPropertyKey {
		return nil, fmt.Errorf("jira: comment property key %q: must be 1 to %d bytes", propKey, maxPropertyKey)
	}
	raw, err := json.Marshal(propValue)
	if err != nil {
		return nil, fmt.Errorf("jira: comment property %s: %w", propKey, err)
	}
	if !isJSONObject(raw) {
		return nil, fmt.Errorf("jira: comment property %s: the value must be a JSON object (Data Center takes nothing else), not %.40s", propKey, raw)
	}
	if len(raw) > maxPropertyValue {
		return nil, fmt.Errorf("jira: comment property %s: the value is %d bytes, over Jira's %d", propKey, len(raw), maxPropertyValue)
	}
	return c.addComment(ctx, key, body, []entityProperty{{Key: propKey, Value: json.RawMessage(raw)}})
}

func (c *Client) addComment(ctx context.Context, key string, body any, props []entityProperty) (*Comment, error) {
	p, d, err := c.api(ctx)
	if err != nil {
		return nil, err
	}
	in := struct {
		Body       any              `json:"body"`
		Properties []entityProperty `json:"properties,omitempty"`
	}{body, props}
	var cm Comment
	if err := c.do(ctx, call{kind: KindComment, method: http.MethodPost, path: issuePath(p, key, "comment"), in: in, out: &cm, dep: d}); err != nil {
		return nil, err
	}
	return &cm, nil
}

func isJSONObject(raw []byte) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '{'
}

// CommentWithProperties is a comment with the entity properties Jira keeps
// beside it, as Comments lists them.
type CommentWithProperties struct {
	Comment
	Created    string                     // Jira's timestamp, as sent
	Properties map[string]json.RawMessage // by key; nil when the comment has none
}

// UnmarshalJSON reads Jira's comment, whose properties are a list of
// {key, value}.
func (c *CommentWithProperties) UnmarshalJSON(b []byte) error {
	var v struct {
		Comment
		Created    string `json:"created"`
		Properties []struct {
			Key   string          `json:"key"`
			Value json.RawMessage `json:"value"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*c = CommentWithProperties{Comment: v.Comment, Created: v.Created}
	for _, p := range v.Properties {
		if c.Properties == nil {
			c.Properties = map[string]json.RawMessage{}
		}
		c.Properties[p.Key] = p.Value
	}
	return nil
}

// Property decodes the property key into v; a missing property leaves v
// alone and reports false. A value that arrives as a string holding a JSON
// object is decoded from inside the string: Data Center's spec declares
// property values that way, though its server sends the JSON itself.
func (c *CommentWithProperties) Property(key string, v any) (bool, error) {
	raw, ok := c.Properties[key]
	if !ok {
		return false, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil && isJSONObject([]byte(s)) {
		raw = json.RawMessage(s)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return false, fmt.Errorf("jira: comment %s property %s: %w", c.ID, key, err)
	}
	return true, nil
}

// commentPage is how many comments Comments asks for at once. Jira may send
// fewer (it lowers maxResults to its own limit), so paging goes by what
// arrived, never by what was asked.
const commentPage = 100

// Comments lists every comment of the issue the client's user may see, oldest
// first, with their properties. It pages through startAt until total is
// reached; a comment deleted meanwhile can shift a later one onto a page
// already read, so a caller that must not miss one should not race deletes.
func (c *Client) Comments(ctx context.Context, key string) ([]CommentWithProperties, error) {
	p, d, err := c.api(ctx)
	if err != nil {
		return nil, err
	}
	var out []CommentWithProperties
	for {
		q := url.Values{
			"startAt":    {strconv.Itoa(len(out))},
			"maxResults": {strconv.Itoa(commentPage)},
			// Oldest first, so comments added while paging land on later
			// pages instead of shifting the ones not yet read.
			"orderBy": {"created"},
			"expand":  {"properties"},
		}
		var page struct {
			Comments []CommentWithProperties `json:"comments"`
			Total    *int                    `json:"total"`
		}
		if err := c.do(ctx, call{kind: KindComments, method: http.MethodGet, path: issuePath(p, key, "comment"), query: q, out: &page, dep: d}); err != nil {
			return nil, err
		}
		out = append(out, page.Comments...)
		if len(page.Comments) == 0 || (page.Total != nil && len(out) >= *page.Total) {
			return out, nil
		}
	}
}

// UpdateComment replaces a comment's body.
func (c *Client) UpdateComment(ctx context.Context, key, id string, body any) (*Comment, error) {
	p, d, err := c.api(ctx)
	if err != nil {
		return nil, err
	}
	var cm Comment
	if err := c.do(ctx, call{kind: KindCommentEdit, method: http.MethodPut, path: issuePath(p, key, "comment", url.PathEscape(id)), in: map[string]any{"body": body}, out: &cm, dep: d}); err != nil {
		return nil, err
	}
	return &cm, nil
}

// FindUserByEmail finds the user with that e-mail, or returns nil, nil. Cloud
// hides e-mails users have not made visible, so a single match of the query
// counts even when its address is hidden.
func (c *Client) FindUserByEmail(ctx context.Context, email string) (*User, error) {
	p, d, err := c.api(ctx)
	if err != nil {
		return nil, err
	}
	q := url.Values{"maxResults": {"10"}}
	if d == DeploymentCloud {
		q.Set("query", email)
	} else {
		q.Set("username", email)
	}
	var users []User
	if err := c.do(ctx, call{kind: KindUserSearch, method: http.MethodGet, path: p + "/user/search", query: q, out: &users, dep: d}); err != nil {
		return nil, err
	}
	for i := range users {
		if strings.EqualFold(users[i].EmailAddress, email) {
			return &users[i], nil
		}
	}
	if len(users) == 1 && users[0].EmailAddress == "" {
		return &users[0], nil
	}
	return nil, nil
}

// AssignIssue assigns the issue to u, or unassigns it when u is nil.
func (c *Client) AssignIssue(ctx context.Context, key string, u *User) error {
	p, d, err := c.api(ctx)
	if err != nil {
		return err
	}
	var in map[string]any
	if d == DeploymentCloud {
		in = map[string]any{"accountId": nil}
		if u != nil {
			in["accountId"] = u.AccountID
		}
	} else {
		in = map[string]any{"name": nil}
		if u != nil {
			in["name"] = u.Name
		}
	}
	return c.do(ctx, call{kind: KindAssign, method: http.MethodPut, path: issuePath(p, key, "assignee"), in: in, dep: d})
}

// IssueType is an issue type of a project.
type IssueType struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Subtask bool   `json:"subtask"`
}

// FieldMeta describes one field on a create screen.
type FieldMeta struct {
	ID            string         `json:"fieldId"`
	Key           string         `json:"key"`
	Name          string         `json:"name"`
	Required      bool           `json:"required"`
	Schema        FieldSchema    `json:"schema"`
	AllowedValues []AllowedValue `json:"allowedValues,omitempty"`
}

// FieldSchema is a field's type as Jira describes it.
type FieldSchema struct {
	Type   string `json:"type"`
	Items  string `json:"items,omitempty"`
	System string `json:"system,omitempty"`
	Custom string `json:"custom,omitempty"`
}

// AllowedValue is one value a field accepts: priorities have names, options
// have values.
type AllowedValue struct {
	ID    string `json:"id"`
	Name  string `json:"name,omitempty"`
	Value string `json:"value,omitempty"`
}

// CreateMeta is what Jira allows when creating an issue of one type in one
// project.
type CreateMeta struct {
	Project    string
	IssueTypes []IssueType // every issue type the project offers
	IssueType  *IssueType  // the one asked for; nil when the project has none of that name
	Fields     []FieldMeta // the create screen of IssueType
}

// Field finds a field by id or (case-insensitively) name.
func (m *CreateMeta) Field(idOrName string) *FieldMeta {
	for i := range m.Fields {
		f := &m.Fields[i]
		if f.ID == idOrName || f.Key == idOrName || strings.EqualFold(f.Name, idOrName) {
			return f
		}
	}
	return nil
}

// Allows reports whether a field with allowed values accepts name (matched
// case-insensitively against name or value); fields without a list allow
// anything.
func (f *FieldMeta) Allows(name string) bool {
	if len(f.AllowedValues) == 0 {
		return true
	}
	for _, v := range f.AllowedValues {
		if strings.EqualFold(v.Name, name) || strings.EqualFold(v.Value, name) || v.ID == name {
			return true
		}
	}
	return false
}

// CreateMeta reads the project's issue types and, when issueType (a name or
// id) is one of them, the fields on its create screen with their allowed
// values. An unknown project is Jira's 404 *Error.
func (c *Client) CreateMeta(ctx context.Context, project, issueType string) (*CreateMeta, error) {
	p, d, err := c.api(ctx)
	if err != nil {
		return nil, err
	}
	m := &CreateMeta{Project: project}
	base := p + "/issue/createmeta/" + url.PathEscape(project) + "/issuetypes"
	// Cloud names the list issueTypes / fields, DC names it values.
	for start := 0; ; {
		var page struct {
			IssueTypes []IssueType `json:"issueTypes"`
			Values     []IssueType `json:"values"`
			Total      int         `json:"total"`
		}
		q := url.Values{"startAt": {strconv.Itoa(start)}, "maxResults": {"200"}}
		if err := c.do(ctx, call{kind: KindCreateMeta, method: http.MethodGet, path: base, query: q, out: &page, project: project, dep: d}); err != nil {
			return nil, err
		}
		got := append(page.IssueTypes, page.Values...)
		m.IssueTypes = append(m.IssueTypes, got...)
		start += len(got)
		if len(got) == 0 || start >= page.Total {
			break
		}
	}
	for i := range m.IssueTypes {
		it := &m.IssueTypes[i]
		if it.ID == issueType || strings.EqualFold(it.Name, issueType) {
			m.IssueType = it
			break
		}
	}
	if m.IssueType == nil {
		return m, nil
	}
	for start := 0; ; {
		var page struct {
			Fields []FieldMeta `json:"fields"`
			Values []FieldMeta `json:"values"`
			Total  int         `json:"total"`
		}
		q := url.Values{"startAt": {strconv.Itoa(start)}, "maxResults": {"200"}}
		if err := c.do(ctx, call{kind: KindCreateMeta, method: http.MethodGet, path: base + "/" + url.PathEscape(m.IssueType.ID), query: q, out: &page, project: project, dep: d}); err != nil {
			return nil, err
		}
		got := append(page.Fields, page.Values...)
		m.Fields = append(m.Fields, got...)
		start += len(got)
		if len(got) == 0 || start >= page.Total {
			break
		}
	}
	return m, nil
}

func sortedAnyKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
