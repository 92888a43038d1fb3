package sandbox

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"unicode"
)

// The JQL subset the sandbox understands: clauses joined by AND and OR, with
// NOT and parentheses; operators =, !=, ~, !~, IN, NOT IN, IS [NOT] EMPTY;
// fields project, key (issuekey, issue, id), labels, status, statusCategory,
// issuetype (type), priority, summary, assignee, reporter, custom fields
// (customfield_N, cf[N]) and issue.property[KEY].path; ORDER BY created,
// updated, key or id, ASC or DESC. Anything else is a 400, as Jira answers.

type jqlQuery struct {
	where jqlExpr // nil: every issue
	order []jqlOrder
}

type jqlOrder struct {
	field string
	desc  bool
}

type jqlExpr interface {
	match(s *Sandbox, is *StoredIssue) bool
}

type jqlAnd struct{ a, b jqlExpr }
type jqlOr struct{ a, b jqlExpr }
type jqlNot struct{ e jqlExpr }
type jqlClause struct {
	field  string
	op     string // =, !=, ~, !~, in, not in, is empty, is not empty
	values []string
}

func (e jqlAnd) match(s *Sandbox, is *StoredIssue) bool { return e.a.match(s, is) && e.b.match(s, is) }
func (e jqlOr) match(s *Sandbox, is *StoredIssue) bool  { return e.a.match(s, is) || e.b.match(s, is) }
func (e jqlNot) match(s *Sandbox, is *StoredIssue) bool { return !e.e.match(s, is) }

func (c jqlClause) match(s *Sandbox, is *StoredIssue) bool {
	vals := s.fieldValues(is, c.field)
	has := func(want string) bool {
		for _, v := range vals {
			if strings.EqualFold(v, want) {
				return true
			}
		}
		return false
	}
	switch c.op {
	case "=":
		return has(c.values[0])
	case "!=":
		return len(vals) > 0 && !has(c.values[0])
	case "in":
		for _, w := range c.values {
			if has(w) {
				return true
			}
		}
		return false
	case "not in":
		if len(vals) == 0 {
			return false
		}
		for _, w := range c.values {
			if has(w) {
				return false
			}
		}
		return true
	case "~", "!~":
		found := false
		for _, v := range vals {
			if strings.Contains(strings.ToLower(v), strings.ToLower(c.values[0])) {
				found = true
			}
		}
		return found == (c.op == "~")
	case "is empty":
		return len(vals) == 0
	case "is not empty":
		return len(vals) > 0
	}
	return false
}

// fieldValues returns the values a clause compares against; several for
// multi-valued fields and for identities (an assignee matches by account id,
// name or e-mail).
func (s *Sandbox) fieldValues(is *StoredIssue, field string) []string {
	f := strings.ToLower(field)
	switch f {
	case "project":
		for _, p := range s.opts.Projects {
			if p.Key == is.Project {
				return []string{p.Key, p.ID, p.Name}
			}
		}
		return []string{is.Project}
	case "key", "issuekey", "issue", "id":
		return []string{is.Key, is.ID}
	case "labels":
		return is.Labels
	case "status":
		return []string{is.Status.Name, is.Status.ID}
	case "statuscategory":
		return []string{is.Status.Category}
	case "issuetype", "type":
		return []string{is.IssueType}
	case "priority":
		if is.Priority == "" {
			return nil
		}
		return []string{is.Priority}
	case "summary", "text":
		return []string{is.Summary}
	case "assignee", "reporter":
		u := is.Assignee
		if f == "reporter" {
			u = is.Reporter
		}
		if u == nil {
			return nil
		}
		return nonEmpty(u.AccountID, u.Name, u.Key, u.Email)
	}
	if rest, ok := strings.CutPrefix(f, "issue.property["); ok {
		i := strings.Index(rest, "]")
		key := strings.Trim(field[len("issue.property["):len("issue.property[")+i], `"'`)
		path := strings.TrimPrefix(rest[i+1:], ".")
		raw, ok := is.Properties[key]
		if !ok {
			return nil
		}
		var v any
		if json.Unmarshal(raw, &v) != nil {
			return nil
		}
		if path != "" {
			for _, p := range strings.Split(field[len(field)-len(path):], ".") {
				m, ok := v.(map[string]any)
				if !ok {
					return nil
				}
				v = m[p]
			}
		}
		return scalarStrings(v)
	}
	id := f
	if n, ok := strings.CutPrefix(f, "cf["); ok {
		id = "customfield_" + strings.TrimSuffix(n, "]")
	}
	raw, ok := is.Fields[id]
	if !ok {
		return nil
	}
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return nil
	}
	return scalarStrings(v)
}

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// scalarStrings flattens a JSON value into comparable strings: options
// compare by value or name, arrays by each element.
func scalarStrings(v any) []string {
	switch t := v.(type) {
	case nil:
		return nil
	case string:
		return []string{t}
	case bool, float64:
		return []string{fmt.Sprint(t)}
	case []any:
		var out []string
		for _, e := range t {
			out = append(out, scalarStrings(e)...)
		}
		return out
	case map[string]any:
		var out []string
		for _, k := range []string{"value", "name", "key", "id", "accountId"} {
			if s, ok := t[k].(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

var knownFields = map[string]bool{
	"project": true, "key": true, "issuekey": true, "issue": true, "id": true, "labels": true,
	"status": true, "statuscategory": true, "issuetype": true, "type": true, "priority": true,
	"summary": true, "text": true, "assignee": true, "reporter": true,
}

type jqlToken struct {
	text   string
	quoted bool
}

func tokenizeJQL(q string) ([]jqlToken, error) {
	var toks []jqlToken
	rs := []rune(q)
	for i := 0; i < len(rs); {
		r := rs[i]
		switch {
		case unicode.IsSpace(r):
			i++
		case r == '"' || r == '\'':
			var b strings.Builder
			j := i + 1
			for ; j < len(rs) && rs[j] != r; j++ {
				if rs[j] == '\\' && j+1 < len(rs) {
					j++
				}
				b.WriteRune(rs[j])
			}
			if j >= len(rs) {
				return nil, fmt.Errorf("the quoted string starting at character %d is not closed", i+1)
			}
			toks = append(toks, jqlToken{text: b.String(), quoted: true})
			i = j + 1
		case r == '(' || r == ')' || r == ',' || r == '=' || r == '~':
			toks = append(toks, jqlToken{text: string(r)})
			i++
		case r == '!' || r == '<' || r == '>':
			if i+1 < len(rs) && (rs[i+1] == '=' || rs[i+1] == '~') {
				toks = append(toks, jqlToken{text: string(rs[i : i+2])})
				i += 2
			} else {
				toks = append(toks, jqlToken{text: string(r)})
				i++
			}
		default:
			j := i
			depth := 0
			for ; j < len(rs); j++ {
				c := rs[j]
				if c == '[' {
					depth++
				} else if c == ']' {
					depth--
				} else if depth == 0 && (unicode.IsSpace(c) || strings.ContainsRune(`()=,!~<>"'`, c)) {
					break
				}
			}
			toks = append(toks, jqlToken{text: string(rs[i:j])})
			i = j
		}
	}
	return toks, nil
}

type jqlParser struct {
	toks []jqlToken
	pos  int
}

func (p *jqlParser) peek() (jqlToken, bool) {
	if p.pos >= len(p.toks) {
		return jqlToken{}, false
	}
	return p.toks[p.pos], true
}

func (p *jqlParser) keyword(words ...string) bool {
	for i, w := range words {
		if p.pos+i >= len(p.toks) {
			return false
		}
		t := p.toks[p.pos+i]
		if t.quoted || !strings.EqualFold(t.text, w) {
			return false
		}
	}
	p.pos += len(words)
	return true
}

func parseJQL(q string) (*jqlQuery, error) {
	toks, err := tokenizeJQL(q)
	if err != nil {
		return nil, err
	}
	p := &jqlParser{toks: toks}
	out := &jqlQuery{}
	if t, ok := p.peek(); ok && !(strings.EqualFold(t.text, "order") && !t.quoted) {
		if out.where, err = p.or(); err != nil {
			return nil, err
		}
	}
	if p.keyword("order", "by") {
		for {
			t, ok := p.peek()
			if !ok {
				return nil, fmt.Errorf("expecting a field name after ORDER BY")
			}
			p.pos++
			f := strings.ToLower(t.text)
			switch f {
			case "created", "updated", "key", "id", "issuekey":
			default:
				return nil, fmt.Errorf("the sandbox cannot order by %q", t.text)
			}
			o := jqlOrder{field: f}
			if p.keyword("desc") {
				o.desc = true
			} else {
				p.keyword("asc")
			}
			out.order = append(out.order, o)
			if t, ok := p.peek(); !ok || t.text != "," {
				break
			}
			p.pos++
		}
	}
	if t, ok := p.peek(); ok {
		return nil, fmt.Errorf("expecting AND, OR or ORDER BY but got %q", t.text)
	}
	return out, nil
}

func (p *jqlParser) or() (jqlExpr, error) {
	a, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.keyword("or") {
		b, err := p.and()
		if err != nil {
			return nil, err
		}
		a = jqlOr{a, b}
	}
	return a, nil
}

func (p *jqlParser) and() (jqlExpr, error) {
	a, err := p.unary()
	if err != nil {
		return nil, err
	}
	for p.keyword("and") {
		b, err := p.unary()
		if err != nil {
			return nil, err
		}
		a = jqlAnd{a, b}
	}
	return a, nil
}

func (p *jqlParser) unary() (jqlExpr, error) {
	if p.keyword("not") {
		e, err := p.unary()
		if err != nil {
			return nil, err
		}
		return jqlNot{e}, nil
	}
	if t, ok := p.peek(); ok && t.text == "(" && !t.quoted {
		p.pos++
		e, err := p.or()
		if err != nil {
			return nil, err
		}
		if t, ok := p.peek(); !ok || t.text != ")" {
			return nil, fmt.Errorf("expecting ')'")
		}
		p.pos++
		return e, nil
	}
	return p.clause()
}

func (p *jqlParser) clause() (jqlExpr, error) {
	t, ok := p.peek()
	if !ok {
		return nil, fmt.Errorf("expecting a field name but the query ended")
	}
	p.pos++
	field := t.text
	lf := strings.ToLower(field)
	if !knownFields[lf] && !strings.HasPrefix(lf, "customfield_") && !strings.HasPrefix(lf, "cf[") && !strings.HasPrefix(lf, "issue.property[") {
		return nil, fmt.Errorf("field '%s' does not exist or you do not have permission to view it", field)
	}
	c := jqlClause{field: field}
	switch {
	case p.keyword("is", "not", "empty"), p.keyword("is", "not", "null"):
		c.op = "is not empty"
		return c, nil
	case p.keyword("is", "empty"), p.keyword("is", "null"):
		c.op = "is empty"
		return c, nil
	case p.keyword("not", "in"):
		c.op = "not in"
	case p.keyword("in"):
		c.op = "in"
	default:
		op, ok := p.peek()
		if !ok || op.quoted {
			return nil, fmt.Errorf("expecting an operator after '%s'", field)
		}
		switch op.text {
		case "=", "!=", "~", "!~":
			c.op = op.text
			p.pos++
		default:
			return nil, fmt.Errorf("the sandbox does not support the operator %q", op.text)
		}
	}
	if c.op == "in" || c.op == "not in" {
		if t, ok := p.peek(); !ok || t.text != "(" || t.quoted {
			return nil, fmt.Errorf("expecting '(' after IN")
		}
		p.pos++
		for {
			v, ok := p.peek()
			if !ok {
				return nil, fmt.Errorf("the IN list is not closed")
			}
			p.pos++
			if v.text == ")" && !v.quoted {
				break
			}
			if v.text == "," && !v.quoted {
				continue
			}
			c.values = append(c.values, v.text)
		}
		return c, nil
	}
	v, ok := p.peek()
	if !ok {
		return nil, fmt.Errorf("expecting a value after '%s %s'", field, c.op)
	}
	p.pos++
	c.values = []string{v.text}
	return c, nil
}

// sortIssues orders issues as ORDER BY says; without it they stay in
// creation order, which is what the sandbox's callers need.
func sortIssues(list []*StoredIssue, order []jqlOrder) {
	if len(order) == 0 {
		return
	}
	sort.SliceStable(list, func(i, j int) bool {
		for _, o := range order {
			a, b := list[i], list[j]
			var c int
			switch o.field {
			case "created":
				c = a.Created.Compare(b.Created)
				if c == 0 {
					c = cmpNum(a.ID, b.ID)
				}
			case "updated":
				c = a.Updated.Compare(b.Updated)
			default:
				c = cmpNum(a.ID, b.ID)
			}
			if o.desc {
				c = -c
			}
			if c != 0 {
				return c < 0
			}
		}
		return false
	})
}

func cmpNum(a, b string) int {
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}
