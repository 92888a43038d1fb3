package sandbox

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/alertbridge/alertbridge/jira"
	"github.com/alertbridge/alertbridge/jira/adf"
	"github.com/alertbridge/alertbridge/jira/wiki"
)

const jiraTime = "2006-01-02T15:04:05.000-0700"

func (s *Sandbox) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /rest/api/{v}/serverInfo", s.serverInfo)
	m.HandleFunc("GET /rest/api/{v}/myself", s.myself)
	m.HandleFunc("POST /rest/api/{v}/issue", s.createIssue)
	m.HandleFunc("POST /rest/api/{v}/issue/bulk", s.bulkCreate)
	m.HandleFunc("GET /rest/api/{v}/issue/{key}", s.getIssue)
	m.HandleFunc("PUT /rest/api/{v}/issue/{key}", s.editIssue)
	m.HandleFunc("GET /rest/api/{v}/issue/{key}/transitions", s.transitions)
	m.HandleFunc("POST /rest/api/{v}/issue/{key}/transitions", s.doTransition)
	m.HandleFunc("GET /rest/api/{v}/issue/{key}/comment", s.listComments)
	m.HandleFunc("POST /rest/api/{v}/issue/{key}/comment", s.addComment)
	// One pattern for .../issue/{key}/comment/{id} and
	// .../issue/createmeta/{project}/issuetypes: ServeMux cannot rank the two,
	// and no issue key is "createmeta".
	m.HandleFunc("GET /rest/api/{v}/issue/{key}/{sub}/{id}", s.issueChild)
	m.HandleFunc("PUT /rest/api/{v}/issue/{key}/comment/{id}", s.updateComment)
	m.HandleFunc("PUT /rest/api/{v}/issue/{key}/assignee", s.assign)
	m.HandleFunc("GET /rest/api/{v}/user/search", s.userSearch)
	m.HandleFunc("GET /rest/api/{v}/search/jql", s.searchJQL)
	m.HandleFunc("POST /rest/api/{v}/search/jql", s.searchJQL)
	m.HandleFunc("GET /rest/api/{v}/search", s.searchV2)
	m.HandleFunc("POST /rest/api/{v}/search", s.searchV2)
	m.HandleFunc("GET /rest/api/{v}/issue/createmeta/{project}/issuetypes/{id}", s.createMetaFields)
	m.HandleFunc("GET /browse/{key}", s.browse)
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, []string{"null for uri: " + r.URL.Path}, nil)
	})
	s.mux = m
}

// version checks the REST version: Cloud serves 2 and 3, Data Center only 2.
// A wrong version answers 404 as Jira does.
func (s *Sandbox) version(w http.ResponseWriter, r *http.Request) (int, bool) {
	switch v := r.PathValue("v"); {
	case v == "2", v == "3" && s.cloud:
		return int(v[0] - '0'), true
	default:
		writeError(w, http.StatusNotFound, []string{"null for uri: " + r.URL.Path}, nil)
		return 0, false
	}
}

// adfBodies reports whether rich text is ADF in this request: Cloud v3 only.
func (s *Sandbox) adfBodies(v int) bool { return s.cloud && v == 3 }

func (s *Sandbox) api(v int) string { return fmt.Sprintf("%s/rest/api/%d", s.baseURL, v) }

func (s *Sandbox) serverInfo(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.version(w, r); !ok {
		return
	}
	s.mu.Lock()
	base := s.baseURL
	s.mu.Unlock()
	info := map[string]any{
		"baseUrl": base, "buildDate": "2024-12-01T00:00:00.000+0000", "buildNumber": 10030024,
		"serverTime": time.Now().Format(jiraTime), "scmInfo": "sandbox", "serverTitle": "alertbridge Jira sandbox",
	}
	if s.cloud {
		info["version"] = "1001.0.0-SNAPSHOT"
		info["versionNumbers"] = []int{1001, 0, 0}
		info["deploymentType"] = "Cloud"
	} else {
		info["version"] = "10.3.2"
		info["versionNumbers"] = []int{10, 3, 2}
		info["deploymentType"] = "Server"
	}
	writeJSON(w, http.StatusOK, info)
}

func (s *Sandbox) userJSON(u *User, v int) map[string]any {
	if u == nil {
		return nil
	}
	m := map[string]any{"displayName": u.DisplayName, "active": true, "timeZone": "UTC"}
	if s.cloud {
		m["accountId"] = u.AccountID
		m["accountType"] = "atlassian"
		m["self"] = s.api(v) + "/user?accountId=" + u.AccountID
		if !u.HideEmail {
			m["emailAddress"] = u.Email
		}
	} else {
		m["name"] = u.Name
		m["key"] = u.Key
		m["emailAddress"] = u.Email
		m["self"] = s.api(v) + "/user?username=" + u.Name
	}
	return m
}

func (s *Sandbox) myself(w http.ResponseWriter, r *http.Request) {
	v, ok := s.version(w, r)
	if !ok {
		return
	}
	u := *actor(r)
	u.HideEmail = false // one sees one's own address
	writeJSON(w, http.StatusOK, s.userJSON(&u, v))
}

func (s *Sandbox) project(keyOrID string) *Project {
	for i := range s.opts.Projects {
		p := &s.opts.Projects[i]
		if strings.EqualFold(p.Key, keyOrID) || p.ID == keyOrID {
			return p
		}
	}
	return nil
}

func issueTypeID(p *Project, name string) string {
	for i, t := range p.IssueTypes {
		if strings.EqualFold(t, name) {
			return strconv.Itoa(10001 + i)
		}
	}
	return ""
}

func (s *Sandbox) priorityID(name string) string {
	for i, p := range s.opts.Priorities {
		if strings.EqualFold(p, name) {
			return strconv.Itoa(i + 1)
		}
	}
	return ""
}

// userBy finds a user by the identity the deployment uses in fields.
func (s *Sandbox) userBy(ref map[string]any) *User {
	for i := range s.opts.Users {
		u := &s.opts.Users[i]
		if s.cloud {
			for _, k := range []string{"accountId", "id"} {
				if id, _ := ref[k].(string); id != "" && id == u.AccountID {
					return u
				}
			}
		} else {
			if n, _ := ref["name"].(string); n != "" && n == u.Name {
				return u
			}
			if k, _ := ref["key"].(string); k != "" && k == u.Key {
				return u
			}
		}
	}
	return nil
}

// createInput is one issue to create.
type createInput struct {
	Fields     map[string]json.RawMessage `json:"fields"`
	Properties []struct {
		Key   string          `json:"key"`
		Value json.RawMessage `json:"value"`
	} `json:"properties"`
}

// fieldErr is one Jira-style validation failure.
type fieldErr struct {
	status   int
	messages []string
	fields   map[string]string
}

func (e *fieldErr) write(w http.ResponseWriter) { writeError(w, e.status, e.messages, e.fields) }

func badField(f, msg string) *fieldErr {
	return &fieldErr{status: http.StatusBadRequest, fields: map[string]string{f: msg}}
}

// applyFields validates fields the way Jira does and writes them to is.
// create is true for a create, where the project and issue type come from the
// fields and required fields must be present.
func (s *Sandbox) applyFields(is *StoredIssue, in map[string]json.RawMessage, v int, create bool) (map[string][2]string, *fieldErr) {
	errs := map[string]string{}
	changes := map[string][2]string{}
	var proj *Project
	if create {
		var ref map[string]any
		if raw, ok := in["project"]; !ok || json.Unmarshal(raw, &ref) != nil {
			errs["project"] = "Specify a valid project ID or key"
		} else {
			key, _ := ref["key"].(string)
			if key == "" {
				key, _ = ref["id"].(string)
			}
			if proj = s.project(key); proj == nil {
				errs["project"] = "Specify a valid project ID or key"
			}
		}
		if proj == nil {
			return nil, &fieldErr{status: http.StatusBadRequest, fields: errs}
		}
		is.Project = proj.Key
		var it map[string]any
		if raw, ok := in["issuetype"]; !ok || json.Unmarshal(raw, &it) != nil {
			errs["issuetype"] = "Specify an issue type"
		} else {
			name, _ := it["name"].(string)
			if id, _ := it["id"].(string); id != "" {
				for _, t := range proj.IssueTypes {
					if issueTypeID(proj, t) == id {
						name = t
					}
				}
			}
			if issueTypeID(proj, name) == "" {
				errs["issuetype"] = "Specify a valid issue type"
			} else {
				for _, t := range proj.IssueTypes {
					if strings.EqualFold(t, name) {
						is.IssueType = t
					}
				}
			}
		}
		if _, ok := in["summary"]; !ok {
			errs["summary"] = "You must specify a summary of the issue."
		}
		for _, f := range proj.Fields {
			if _, ok := in[f.ID]; f.Required && !ok {
				errs[f.ID] = f.Name + " is required."
			}
		}
	} else {
		proj = s.project(is.Project)
	}
	for name, raw := range in {
		switch name {
		case "project", "issuetype":
			if !create {
				errs[name] = "Field '" + name + "' cannot be set. It is not on the appropriate screen, or unknown."
			}
		case "summary":
			var sum string
			if json.Unmarshal(raw, &sum) != nil {
				errs[name] = "Operation value must be a string"
			} else if strings.TrimSpace(sum) == "" {
				errs[name] = "You must specify a summary of the issue."
			} else if utf8.RuneCountInString(sum) > 255 {
				errs[name] = "Summary must be less than 255 characters."
			} else {
				changes["summary"] = [2]string{is.Summary, sum}
				is.Summary = sum
			}
		case "description":
			stored, text, msg := s.richText(raw, v)
			if msg != "" {
				errs[name] = msg
			} else if utf16Len(text) > 32767 {
				errs[name] = "You have exceeded the maximum length allowed for this field (32767 characters)."
			} else {
				changes["description"] = [2]string{"", text}
				is.Description = stored
				raw = stored
			}
		case "priority":
			var ref map[string]any
			if json.Unmarshal(raw, &ref) != nil {
				errs[name] = "Specify the Priority (id or name) in the string format"
				break
			}
			pn, _ := ref["name"].(string)
			if id, _ := ref["id"].(string); id != "" {
				for _, p := range s.opts.Priorities {
					if s.priorityID(p) == id {
						pn = p
					}
				}
			}
			if s.priorityID(pn) == "" {
				errs[name] = "The priority selected is invalid."
			} else {
				pn = s.opts.Priorities[mustAtoi(s.priorityID(pn))-1]
				changes["priority"] = [2]string{is.Priority, pn}
				is.Priority = pn
			}
		case "labels":
			var ls []string
			if json.Unmarshal(raw, &ls) != nil {
				errs[name] = "Operation value must be an array of strings"
				break
			}
			bad := ""
			for _, l := range ls {
				if strings.ContainsAny(l, " \t\n") || l == "" {
					bad = l
				} else if utf8.RuneCountInString(l) > 255 {
					bad = l
				}
			}
			if bad != "" {
				errs[name] = fmt.Sprintf("The label '%s' contains spaces which is invalid.", bad)
				break
			}
			changes["labels"] = [2]string{strings.Join(is.Labels, " "), strings.Join(ls, " ")}
			is.Labels = ls
		case "assignee", "reporter":
			if string(raw) == "null" {
				if name == "assignee" {
					is.Assignee = nil
				}
				break
			}
			var ref map[string]any
			if json.Unmarshal(raw, &ref) != nil {
				errs[name] = "expected Object"
				break
			}
			u := s.userBy(ref)
			if u == nil {
				errs[name] = "User '" + fmt.Sprint(firstValue(ref)) + "' does not exist."
				break
			}
			c := *u
			if name == "assignee" {
				changes["assignee"] = [2]string{userID(s.cloud, is.Assignee), userID(s.cloud, &c)}
				is.Assignee = &c
			} else {
				is.Reporter = &c
			}
		default:
			var fd *Field
			if proj != nil {
				for i := range proj.Fields {
					if proj.Fields[i].ID == name {
						fd = &proj.Fields[i]
					}
				}
			}
			if fd == nil {
				errs[name] = "Field '" + name + "' cannot be set. It is not on the appropriate screen, or unknown."
				break
			}
			if msg := checkCustom(fd, raw); msg != "" {
				errs[name] = msg
				break
			}
			changes[name] = [2]string{"", string(raw)}
		}
		if errs[name] == "" {
			is.Fields[name] = append(json.RawMessage(nil), raw...)
		}
	}
	if len(errs) > 0 {
		return nil, &fieldErr{status: http.StatusBadRequest, fields: errs}
	}
	return changes, nil
}

func firstValue(m map[string]any) any {
	for _, k := range []string{"accountId", "id", "name", "key"} {
		if v, ok := m[k]; ok {
			return v
		}
	}
	return ""
}

func userID(cloud bool, u *User) string {
	if u == nil {
		return ""
	}
	if cloud {
		return u.AccountID
	}
	return u.Name
}

func mustAtoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

func checkCustom(fd *Field, raw json.RawMessage) string {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return "invalid JSON"
	}
	switch fd.Type {
	case "", "string":
		if _, ok := v.(string); !ok {
			return "Operation value must be a string"
		}
	case "number":
		if _, ok := v.(float64); !ok {
			return "Operation value must be a number"
		}
	case "array":
		if _, ok := v.([]any); !ok {
			return "Operation value must be an array"
		}
	case "option":
		m, ok := v.(map[string]any)
		if !ok {
			return "Option value must be an object with a value or id"
		}
		val, _ := m["value"].(string)
		if len(fd.AllowedValues) > 0 && !slices.Contains(fd.AllowedValues, val) {
			return fmt.Sprintf("Option value '%s' is not valid", val)
		}
	}
	return ""
}

// richText checks a description or comment body: an ADF document on Cloud
// v3, a string elsewhere. It returns what to store (ADF on Cloud, a string on
// DC), the plain text for length checks, and Jira's complaint if any.
func (s *Sandbox) richText(raw json.RawMessage, v int) (json.RawMessage, string, string) {
	if string(raw) == "null" {
		return raw, "", ""
	}
	if s.adfBodies(v) {
		var probe any
		_ = json.Unmarshal(raw, &probe)
		if _, ok := probe.(map[string]any); !ok {
			return nil, "", "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
		}
		doc, err := adf.Parse(raw)
		if err != nil {
			return nil, "", "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
		}
		return raw, adf.ToMarkdown(doc), ""
	}
	var str string
	if json.Unmarshal(raw, &str) != nil {
		return nil, "", "Operation value must be a string"
	}
	if s.cloud {
		// Cloud keeps ADF; a v2 write is converted, as Jira does.
		doc := adf.FromMarkdown(wiki.ToMarkdown(str))
		b, _ := json.Marshal(doc)
		return b, str, ""
	}
	return raw, str, ""
}

// renderRich turns a stored body into the representation of version v.
func (s *Sandbox) renderRich(stored json.RawMessage, v int) any {
	if len(stored) == 0 || string(stored) == "null" {
		return nil
	}
	if s.adfBodies(v) || !s.cloud {
		return stored
	}
	doc, err := adf.Parse(stored)
	if err != nil {
		return ""
	}
	return wiki.FromMarkdown(adf.ToMarkdown(doc))
}

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
	}
	return n
}

func (s *Sandbox) createOne(r *http.Request, in createInput, v int) (*StoredIssue, *fieldErr) {
	now := time.Now()
	is := &StoredIssue{Fields: map[string]json.RawMessage{}, Properties: map[string]json.RawMessage{}, Created: now, Updated: now}
	if _, ferr := s.applyFields(is, in.Fields, v, true); ferr != nil {
		return nil, ferr
	}
	u := actor(r)
	if u != nil && len(u.Projects) > 0 && !slices.Contains(u.Projects, is.Project) {
		return nil, &fieldErr{status: http.StatusForbidden, messages: []string{"You do not have permission to create issues in this project."}}
	}
	if is.Reporter == nil && u != nil {
		c := *u
		is.Reporter = &c
	}
	for _, p := range in.Properties {
		if p.Key == "" || len(p.Key) > 255 {
			return nil, badField("properties", "The property key must be between 1 and 255 characters.")
		}
		is.Properties[p.Key] = append(json.RawMessage(nil), p.Value...)
	}
	is.Status = s.status(s.workflow.Initial)
	s.nextIssue++
	s.nextNum[is.Project]++
	is.ID = strconv.Itoa(s.nextIssue)
	is.Key = fmt.Sprintf("%s-%d", is.Project, s.nextNum[is.Project])
	s.issues = append(s.issues, is)
	s.byKey[is.Key] = is
	s.byID[is.ID] = is
	return is, nil
}

func (s *Sandbox) createIssue(w http.ResponseWriter, r *http.Request) {
	v, ok := s.version(w, r)
	if !ok {
		return
	}
	var in createInput
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Fields == nil {
		writeError(w, http.StatusBadRequest, []string{"Can not deserialize the request body: expected {\"fields\": {...}}"}, nil)
		return
	}
	s.mu.Lock()
	is, ferr := s.createOne(r, in, v)
	var payload []byte
	if ferr == nil {
		payload = s.issueEvent("jira:issue_created", "issue_created", is, actor(r), nil)
	}
	s.mu.Unlock()
	if ferr != nil {
		ferr.write(w)
		return
	}
	s.sendHook("jira:issue_created", payload)
	writeJSON(w, http.StatusCreated, map[string]any{"id": is.ID, "key": is.Key, "self": s.api(v) + "/issue/" + is.ID})
}

func (s *Sandbox) bulkCreate(w http.ResponseWriter, r *http.Request) {
	v, ok := s.version(w, r)
	if !ok {
		return
	}
	var in struct {
		IssueUpdates []createInput `json:"issueUpdates"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		writeError(w, http.StatusBadRequest, []string{"Can not deserialize the request body"}, nil)
		return
	}
	if len(in.IssueUpdates) > 50 {
		writeError(w, http.StatusBadRequest, []string{"Bulk create is limited to 50 issues a request."}, nil)
		return
	}
	created := []map[string]any{}
	failed := []map[string]any{}
	var payloads [][]byte
	s.mu.Lock()
	for i, one := range in.IssueUpdates {
		if one.Fields == nil {
			one.Fields = map[string]json.RawMessage{}
		}
		is, ferr := s.createOne(r, one, v)
		if ferr != nil {
			failed = append(failed, map[string]any{"status": ferr.status, "failedElementNumber": i,
				"elementErrors": map[string]any{"errorMessages": orEmpty(ferr.messages), "errors": ferr.fields}})
			continue
		}
		payloads = append(payloads, s.issueEvent("jira:issue_created", "issue_created", is, actor(r), nil))
		created = append(created, map[string]any{"id": is.ID, "key": is.Key, "self": s.api(v) + "/issue/" + is.ID})
	}
	s.mu.Unlock()
	for _, p := range payloads {
		s.sendHook("jira:issue_created", p)
	}
	code := http.StatusCreated
	if len(created) == 0 && len(failed) > 0 {
		code = http.StatusBadRequest
	}
	writeJSON(w, code, map[string]any{"issues": created, "errors": failed})
}

func orEmpty(ss []string) []string {
	if ss == nil {
		return []string{}
	}
	return ss
}

func (s *Sandbox) status(name string) (st jira.Status) {
	for _, x := range s.workflow.Statuses {
		if x.Name == name {
			return x
		}
	}
	return jira.Status{Name: name, Category: "new"}
}

// lookup finds an issue by key or id; the caller holds s.mu.
func (s *Sandbox) lookup(w http.ResponseWriter, key string) *StoredIssue {
	if is, ok := s.byKey[strings.ToUpper(key)]; ok {
		return is
	}
	if is, ok := s.byID[key]; ok {
		return is
	}
	writeError(w, http.StatusNotFound, []string{"Issue does not exist or you do not have permission to see it."}, nil)
	return nil
}

func (s *Sandbox) statusJSON(st jira.Status, v int) map[string]any {
	catID := map[string]int{"new": 2, "indeterminate": 4, "done": 3}[st.Category]
	catName := map[string]string{"new": "To Do", "indeterminate": "In Progress", "done": "Done"}[st.Category]
	return map[string]any{"id": st.ID, "name": st.Name, "self": s.api(v) + "/status/" + st.ID,
		"statusCategory": map[string]any{"id": catID, "key": st.Category, "name": catName}}
}

// commentJSON renders a comment in version v, with its properties when
// props (expand=properties) asks for them.
func (s *Sandbox) commentJSON(is *StoredIssue, c StoredComment, v int, props bool) map[string]any {
	author := s.userByID(c.Author)
	m := map[string]any{"id": c.ID, "self": s.api(v) + "/issue/" + is.ID + "/comment/" + c.ID,
		"author": s.userJSON(author, v), "updateAuthor": s.userJSON(author, v),
		"body": s.renderRich(c.Body, v), "created": c.Created.Format(jiraTime), "updated": c.Updated.Format(jiraTime)}
	if props {
		// Both deployments send the JSON itself, whatever the DC spec's
		// string type says (Jira writes the stored value raw).
		list := []any{}
		keys := slices.Sorted(maps.Keys(c.Properties))
		for _, k := range keys {
			list = append(list, map[string]any{"key": k, "value": c.Properties[k]})
		}
		m["properties"] = list
	}
	return m
}

func (s *Sandbox) userByID(id string) *User {
	for i := range s.opts.Users {
		u := &s.opts.Users[i]
		if id == u.AccountID || id == u.Name {
			return u
		}
	}
	return &User{AccountID: id, Name: id, DisplayName: id}
}

// issueJSON renders an issue in version v; fields limits the fields (nil:
// all).
func (s *Sandbox) issueJSON(is *StoredIssue, v int, fields []string) map[string]any {
	all := map[string]any{}
	for k, raw := range is.Fields {
		all[k] = raw
	}
	p := s.project(is.Project)
	all["summary"] = is.Summary
	all["description"] = s.renderRich(is.Description, v)
	all["labels"] = orEmpty(is.Labels)
	all["issuetype"] = map[string]any{"id": issueTypeID(p, is.IssueType), "name": is.IssueType, "subtask": false}
	all["project"] = map[string]any{"id": p.ID, "key": p.Key, "name": p.Name}
	all["status"] = s.statusJSON(is.Status, v)
	all["assignee"] = s.userJSON(is.Assignee, v)
	all["reporter"] = s.userJSON(is.Reporter, v)
	all["created"] = is.Created.Format(jiraTime)
	all["updated"] = is.Updated.Format(jiraTime)
	if is.Priority != "" {
		all["priority"] = map[string]any{"id": s.priorityID(is.Priority), "name": is.Priority}
	} else {
		all["priority"] = nil
	}
	cs := []any{}
	for _, c := range is.Comments {
		cs = append(cs, s.commentJSON(is, c, v, false))
	}
	all["comment"] = map[string]any{"comments": cs, "maxResults": len(cs), "total": len(cs), "startAt": 0}
	out := all
	if fields != nil && !slices.Contains(fields, "*all") && !slices.Contains(fields, "*navigable") {
		out = map[string]any{}
		for _, f := range fields {
			if x, ok := all[f]; ok {
				out[f] = x
			}
		}
	}
	return map[string]any{"id": is.ID, "key": is.Key, "self": s.api(v) + "/issue/" + is.ID, "fields": out}
}

func splitFields(q string) []string {
	if q == "" {
		return nil
	}
	var out []string
	for _, f := range strings.Split(q, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func (s *Sandbox) getIssue(w http.ResponseWriter, r *http.Request) {
	v, ok := s.version(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.lookup(w, r.PathValue("key"))
	if is == nil {
		return
	}
	var fields []string
	for _, f := range r.URL.Query()["fields"] {
		fields = append(fields, splitFields(f)...)
	}
	writeJSON(w, http.StatusOK, s.issueJSON(is, v, fields))
}

func (s *Sandbox) editIssue(w http.ResponseWriter, r *http.Request) {
	v, ok := s.version(w, r)
	if !ok {
		return
	}
	var in createInput
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		writeError(w, http.StatusBadRequest, []string{"Can not deserialize the request body"}, nil)
		return
	}
	s.mu.Lock()
	is := s.lookup(w, r.PathValue("key"))
	if is == nil {
		s.mu.Unlock()
		return
	}
	// Validate on a copy, so a rejected edit changes nothing.
	c := is.clone()
	changes, ferr := s.applyFields(&c, in.Fields, v, false)
	if ferr != nil {
		s.mu.Unlock()
		ferr.write(w)
		return
	}
	c.Updated = time.Now()
	if _, ok := in.Fields["assignee"]; ok {
		c.AssigneeHistory = append(c.AssigneeHistory, AssigneeChange{From: userID(s.cloud, is.Assignee), To: userID(s.cloud, c.Assignee), At: c.Updated})
	}
	*is = c
	payload := s.issueEvent("jira:issue_updated", "issue_updated", is, actor(r), s.changelog(changes))
	s.mu.Unlock()
	s.sendHook("jira:issue_updated", payload)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Sandbox) available(is *StoredIssue) []WorkflowTransition {
	var out []WorkflowTransition
	for _, t := range s.workflow.Transitions {
		if len(t.From) == 0 || slices.Contains(t.From, is.Status.Name) {
			out = append(out, t)
		}
	}
	return out
}

func (s *Sandbox) transitions(w http.ResponseWriter, r *http.Request) {
	v, ok := s.version(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.lookup(w, r.PathValue("key"))
	if is == nil {
		return
	}
	ts := []any{}
	for _, t := range s.available(is) {
		ts = append(ts, map[string]any{"id": t.ID, "name": t.Name, "to": s.statusJSON(s.status(t.To), v),
			"hasScreen": false, "isGlobal": len(t.From) == 0, "isInitial": false, "isConditional": false})
	}
	writeJSON(w, http.StatusOK, map[string]any{"expand": "transitions", "transitions": ts})
}

func (s *Sandbox) doTransition(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.version(w, r); !ok {
		return
	}
	var in struct {
		Transition struct {
			ID string `json:"id"`
		} `json:"transition"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Transition.ID == "" {
		writeError(w, http.StatusBadRequest, []string{"Missing 'transition' identifier"}, nil)
		return
	}
	s.mu.Lock()
	is := s.lookup(w, r.PathValue("key"))
	if is == nil {
		s.mu.Unlock()
		return
	}
	var tr *WorkflowTransition
	for _, t := range s.available(is) {
		if t.ID == in.Transition.ID {
			tr = &t
		}
	}
	if tr == nil {
		s.mu.Unlock()
		writeError(w, http.StatusBadRequest, []string{fmt.Sprintf("Transition id '%s' is not valid for this issue.", in.Transition.ID)}, nil)
		return
	}
	from := is.Status
	is.Status = s.status(tr.To)
	is.Updated = time.Now()
	is.StatusHistory = append(is.StatusHistory, StatusChange{Transition: tr.ID, From: from.Name, To: is.Status.Name, At: is.Updated})
	items := []map[string]any{{"field": "status", "fieldtype": "jira", "fieldId": "status",
		"from": from.ID, "fromString": from.Name, "to": is.Status.ID, "toString": is.Status.Name}}
	if from.Category != "done" && is.Status.Category == "done" {
		items = append(items, map[string]any{"field": "resolution", "fieldtype": "jira", "fieldId": "resolution",
			"from": nil, "fromString": nil, "to": "10000", "toString": "Done"})
	}
	payload := s.issueEvent("jira:issue_updated", "issue_generic", is, actor(r), s.changeID(items))
	s.mu.Unlock()
	s.sendHook("jira:issue_updated", payload)
	w.WriteHeader(http.StatusNoContent)
}

// maxCommentPage is the most comments one page holds whatever maxResults
// asks: Jira lowers maxResults to its own limit and says so in the answer,
// and a client must page by what arrived.
const maxCommentPage = 100

func (s *Sandbox) listComments(w http.ResponseWriter, r *http.Request) {
	v, ok := s.version(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	start, max := 0, 50
	if s.cloud {
		max = 100
	}
	if n, err := strconv.Atoi(q.Get("startAt")); err == nil && n > 0 {
		start = n
	}
	if n, err := strconv.Atoi(q.Get("maxResults")); err == nil && n >= 0 {
		max = n
	}
	max = min(max, maxCommentPage)
	newest := false
	switch q.Get("orderBy") {
	case "", "created", "+created":
	case "-created":
		newest = true
	default:
		if s.cloud {
			writeError(w, http.StatusBadRequest, []string{"Invalid orderBy: " + q.Get("orderBy")}, nil)
			return
		}
	}
	props := expands(r, "properties")
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.lookup(w, r.PathValue("key"))
	if is == nil {
		return
	}
	all := slices.Clone(is.Comments)
	if newest {
		slices.Reverse(all)
	}
	cs := []any{}
	for _, c := range all[min(start, len(all)):min(len(all), start+max)] {
		cs = append(cs, s.commentJSON(is, c, v, props))
	}
	writeJSON(w, http.StatusOK, map[string]any{"startAt": start, "maxResults": max, "total": len(all), "comments": cs})
}

func (s *Sandbox) issueChild(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.PathValue("key") == "createmeta" && r.PathValue("id") == "issuetypes":
		r.SetPathValue("project", r.PathValue("sub"))
		s.createMetaTypes(w, r)
	case r.PathValue("sub") == "comment":
		s.getComment(w, r)
	default:
		writeError(w, http.StatusNotFound, []string{"null for uri: " + r.URL.Path}, nil)
	}
}

func (s *Sandbox) getComment(w http.ResponseWriter, r *http.Request) {
	v, ok := s.version(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.lookup(w, r.PathValue("key"))
	if is == nil {
		return
	}
	i := s.commentIndex(w, is, r.PathValue("id"))
	if i < 0 {
		return
	}
	writeJSON(w, http.StatusOK, s.commentJSON(is, is.Comments[i], v, expands(r, "properties")))
}

// expands reports whether the request's expand parameter names what.
func expands(r *http.Request, what string) bool {
	for _, e := range r.URL.Query()["expand"] {
		if slices.Contains(splitFields(e), what) {
			return true
		}
	}
	return false
}

// commentIndex finds a comment of is by id, answering 404 when there is
// none; the caller holds s.mu.
func (s *Sandbox) commentIndex(w http.ResponseWriter, is *StoredIssue, id string) int {
	i := slices.IndexFunc(is.Comments, func(c StoredComment) bool { return c.ID == id })
	if i < 0 {
		writeError(w, http.StatusNotFound, []string{"Can not find a comment for the id: " + id + "."}, nil)
	}
	return i
}

// commentInput is a comment create or update: its body and the properties
// to set with it.
type commentInput struct {
	body  json.RawMessage
	props map[string]json.RawMessage
}

func (s *Sandbox) commentInput(w http.ResponseWriter, r *http.Request, v int) (commentInput, bool) {
	var in struct {
		Body       json.RawMessage `json:"body"`
		Properties []struct {
			Key   string          `json:"key"`
			Value json.RawMessage `json:"value"`
		} `json:"properties"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || len(in.Body) == 0 || string(in.Body) == "null" {
		writeError(w, http.StatusBadRequest, nil, map[string]string{"comment": "Comment body can not be empty!"})
		return commentInput{}, false
	}
	stored, text, msg := s.richText(in.Body, v)
	if msg == "" && strings.TrimSpace(text) == "" {
		msg = "Comment body can not be empty!"
	}
	if msg == "" && utf16Len(text) > 32767 {
		msg = "The entered text is too long. It exceeds the allowed limit of 32767 characters."
	}
	if msg != "" {
		writeError(w, http.StatusBadRequest, nil, map[string]string{"comment": msg})
		return commentInput{}, false
	}
	out := commentInput{body: stored}
	for _, p := range in.Properties {
		if msg := s.checkProperty(p.Key, p.Value); msg != "" {
			writeError(w, http.StatusBadRequest, nil, map[string]string{"properties": msg})
			return commentInput{}, false
		}
		if out.props == nil {
			out.props = map[string]json.RawMessage{}
		}
		out.props[p.Key] = append(json.RawMessage(nil), p.Value...)
	}
	return out, true
}

// checkProperty checks an inline comment property as Jira does. Data Center
// casts each value to a JSON object (CommentJsonBean.setProperties), so a
// string there, which its spec suggests, fails; Cloud keeps any JSON value.
func (s *Sandbox) checkProperty(key string, value json.RawMessage) string {
	if key == "" || len(key) > 255 {
		return "The property key must be between 1 and 255 characters."
	}
	value = json.RawMessage(strings.TrimSpace(string(value)))
	if len(value) == 0 || string(value) == "null" {
		return "The property value must not be empty."
	}
	if len(value) > 32768 {
		return "The property value is too long: the limit is 32768 bytes."
	}
	if !s.cloud && value[0] != '{' {
		return "The value of comment property '" + key + "' must be a JSON object."
	}
	return ""
}

func (s *Sandbox) addComment(w http.ResponseWriter, r *http.Request) {
	v, ok := s.version(w, r)
	if !ok {
		return
	}
	in, ok := s.commentInput(w, r, v)
	if !ok {
		return
	}
	s.mu.Lock()
	is := s.lookup(w, r.PathValue("key"))
	if is == nil {
		s.mu.Unlock()
		return
	}
	s.nextCmt++
	now := time.Now()
	c := StoredComment{ID: strconv.Itoa(s.nextCmt), Author: userID(s.cloud, actor(r)), Body: in.body, Properties: in.props, Created: now, Updated: now}
	is.Comments = append(is.Comments, c)
	is.Updated = now
	out := s.commentJSON(is, c, v, expands(r, "properties"))
	payload := s.commentEvent("comment_created", is, c)
	s.mu.Unlock()
	s.sendHook("comment_created", payload)
	writeJSON(w, http.StatusCreated, out)
}

func (s *Sandbox) updateComment(w http.ResponseWriter, r *http.Request) {
	v, ok := s.version(w, r)
	if !ok {
		return
	}
	in, ok := s.commentInput(w, r, v)
	if !ok {
		return
	}
	s.mu.Lock()
	is := s.lookup(w, r.PathValue("key"))
	if is == nil {
		s.mu.Unlock()
		return
	}
	i := s.commentIndex(w, is, r.PathValue("id"))
	if i < 0 {
		s.mu.Unlock()
		return
	}
	c := &is.Comments[i]
	c.Body = in.body
	c.Updated = time.Now()
	// Properties given with an update are set; the others stay.
	for k, val := range in.props {
		if c.Properties == nil {
			c.Properties = map[string]json.RawMessage{}
		}
		c.Properties[k] = val
	}
	out := s.commentJSON(is, *c, v, expands(r, "properties"))
	payload := s.commentEvent("comment_updated", is, *c)
	s.mu.Unlock()
	s.sendHook("comment_updated", payload)
	writeJSON(w, http.StatusOK, out)
}

func (s *Sandbox) assign(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.version(w, r); !ok {
		return
	}
	var ref map[string]any
	if err := json.NewDecoder(r.Body).Decode(&ref); err != nil {
		writeError(w, http.StatusBadRequest, []string{"Can not deserialize the request body"}, nil)
		return
	}
	var u *User
	idKey := "name"
	if s.cloud {
		idKey = "accountId"
	}
	if ref[idKey] != nil {
		if u = s.userBy(ref); u == nil {
			writeError(w, http.StatusBadRequest, nil, map[string]string{"assignee": fmt.Sprintf("User '%v' does not exist.", ref[idKey])})
			return
		}
	}
	s.mu.Lock()
	is := s.lookup(w, r.PathValue("key"))
	if is == nil {
		s.mu.Unlock()
		return
	}
	from := userID(s.cloud, is.Assignee)
	if u == nil {
		is.Assignee = nil
	} else {
		c := *u
		is.Assignee = &c
	}
	is.Updated = time.Now()
	is.AssigneeHistory = append(is.AssigneeHistory, AssigneeChange{From: from, To: userID(s.cloud, is.Assignee), At: is.Updated})
	payload := s.issueEvent("jira:issue_updated", "issue_assigned", is, actor(r), s.changelog(map[string][2]string{"assignee": {from, userID(s.cloud, is.Assignee)}}))
	s.mu.Unlock()
	s.sendHook("jira:issue_updated", payload)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Sandbox) userSearch(w http.ResponseWriter, r *http.Request) {
	v, ok := s.version(w, r)
	if !ok {
		return
	}
	q := r.URL.Query().Get("query")
	if !s.cloud {
		q = r.URL.Query().Get("username")
	}
	if q == "" {
		if s.cloud {
			writeError(w, http.StatusBadRequest, []string{"One of 'accountId' or 'query' must be specified."}, nil)
		} else {
			writeError(w, http.StatusBadRequest, []string{"The username query parameter was not provided"}, nil)
		}
		return
	}
	lq := strings.ToLower(q)
	out := []any{}
	for i := range s.opts.Users {
		u := &s.opts.Users[i]
		hay := []string{u.Email, u.DisplayName}
		if !s.cloud {
			hay = append(hay, u.Name)
		}
		for _, h := range hay {
			if h != "" && strings.HasPrefix(strings.ToLower(h), lq) {
				out = append(out, s.userJSON(u, v))
				break
			}
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// searchable runs a JQL query over the issues the index has caught up with.
func (s *Sandbox) search(w http.ResponseWriter, jql string) ([]*StoredIssue, bool) {
	q, err := parseJQL(jql)
	if err != nil {
		writeError(w, http.StatusBadRequest, []string{"Error in the JQL Query: " + err.Error()}, nil)
		return nil, false
	}
	cutoff := time.Now().Add(-s.opts.IndexLag)
	var hits []*StoredIssue
	for _, is := range s.issues {
		if s.opts.IndexLag > 0 && is.Created.After(cutoff) {
			continue
		}
		if q.where == nil || q.where.match(s, is) {
			hits = append(hits, is)
		}
	}
	sortIssues(hits, q.order)
	return hits, true
}

type searchParams struct {
	JQL           string   `json:"jql"`
	Fields        []string `json:"fields"`
	MaxResults    *int     `json:"maxResults"`
	StartAt       int      `json:"startAt"`
	NextPageToken string   `json:"nextPageToken"`
}

func readSearch(r *http.Request) (searchParams, error) {
	var p searchParams
	if r.Method == http.MethodPost {
		if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
			return p, err
		}
		return p, nil
	}
	q := r.URL.Query()
	p.JQL = q.Get("jql")
	for _, f := range q["fields"] {
		p.Fields = append(p.Fields, splitFields(f)...)
	}
	if m := q.Get("maxResults"); m != "" {
		n, err := strconv.Atoi(m)
		if err != nil {
			return p, err
		}
		p.MaxResults = &n
	}
	p.StartAt, _ = strconv.Atoi(q.Get("startAt"))
	p.NextPageToken = q.Get("nextPageToken")
	return p, nil
}

func (s *Sandbox) searchJQL(w http.ResponseWriter, r *http.Request) {
	v, ok := s.version(w, r)
	if !ok {
		return
	}
	if !s.cloud || v != 3 {
		writeError(w, http.StatusNotFound, []string{"null for uri: " + r.URL.Path}, nil)
		return
	}
	p, err := readSearch(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, []string{"Invalid request payload."}, nil)
		return
	}
	max := 50
	if p.MaxResults != nil {
		max = *p.MaxResults
	}
	start := 0
	if p.NextPageToken != "" {
		if start, err = strconv.Atoi(p.NextPageToken); err != nil || start < 0 {
			writeError(w, http.StatusBadRequest, []string{"The provided next page token is invalid or expired."}, nil)
			return
		}
	}
	// The Cloud endpoint returns only ids unless fields are named.
	fields := p.Fields
	if fields == nil {
		fields = []string{"id"}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	hits, ok := s.search(w, p.JQL)
	if !ok {
		return
	}
	out := map[string]any{}
	page := pageOf(hits, start, max)
	list := []any{}
	for _, is := range page {
		list = append(list, s.issueJSON(is, v, fields))
	}
	out["issues"] = list
	if start+len(page) < len(hits) {
		out["nextPageToken"] = strconv.Itoa(start + len(page))
		out["isLast"] = false
	} else {
		out["isLast"] = true
	}
	writeJSON(w, http.StatusOK, out)
}

func pageOf(hits []*StoredIssue, start, max int) []*StoredIssue {
	if start > len(hits) {
		return nil
	}
	end := min(len(hits), start+max)
	return hits[start:end]
}

func (s *Sandbox) searchV2(w http.ResponseWriter, r *http.Request) {
	v, ok := s.version(w, r)
	if !ok {
		return
	}
	if s.cloud {
		writeError(w, http.StatusGone, []string{"The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046"}, nil)
		return
	}
	p, err := readSearch(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, []string{"Invalid request payload."}, nil)
		return
	}
	max := 50
	if p.MaxResults != nil {
		max = *p.MaxResults
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	hits, ok := s.search(w, p.JQL)
	if !ok {
		return
	}
	list := []any{}
	for _, is := range pageOf(hits, p.StartAt, max) {
		list = append(list, s.issueJSON(is, v, p.Fields))
	}
	writeJSON(w, http.StatusOK, map[string]any{"expand": "names,schema", "startAt": p.StartAt, "maxResults": max, "total": len(hits), "issues": list})
}

func (s *Sandbox) createMetaTypes(w http.ResponseWriter, r *http.Request) {
	v, ok := s.version(w, r)
	if !ok {
		return
	}
	p := s.project(r.PathValue("project"))
	if p == nil {
		writeError(w, http.StatusNotFound, []string{"No project could be found with key '" + r.PathValue("project") + "'."}, nil)
		return
	}
	list := []any{}
	for _, t := range p.IssueTypes {
		id := issueTypeID(p, t)
		list = append(list, map[string]any{"id": id, "name": t, "subtask": false, "description": "", "self": s.api(v) + "/issuetype/" + id})
	}
	start, max := pageParams(r)
	list = list[min(start, len(list)):min(len(list), start+max)]
	key := "issueTypes"
	if !s.cloud {
		key = "values"
	}
	writeJSON(w, http.StatusOK, map[string]any{key: list, "startAt": start, "maxResults": max, "total": len(p.IssueTypes), "isLast": true})
}

func pageParams(r *http.Request) (int, int) {
	start, _ := strconv.Atoi(r.URL.Query().Get("startAt"))
	max := 50
	if m, err := strconv.Atoi(r.URL.Query().Get("maxResults")); err == nil && m > 0 {
		max = m
	}
	return max0(start), max
}

func max0(n int) int {
	if n < 0 {
		return 0
	}
	return n
}

func (s *Sandbox) createMetaFields(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.version(w, r); !ok {
		return
	}
	p := s.project(r.PathValue("project"))
	if p == nil {
		writeError(w, http.StatusNotFound, []string{"No project could be found with key '" + r.PathValue("project") + "'."}, nil)
		return
	}
	known := false
	for _, t := range p.IssueTypes {
		known = known || issueTypeID(p, t) == r.PathValue("id")
	}
	if !known {
		writeError(w, http.StatusNotFound, []string{"Issue type with id '" + r.PathValue("id") + "' does not exist or is not available in this project."}, nil)
		return
	}
	field := func(id, name string, required bool, schema map[string]any, allowed []any) map[string]any {
		m := map[string]any{"fieldId": id, "key": id, "name": name, "required": required, "schema": schema,
			"hasDefaultValue": false, "operations": []string{"set"}}
		if allowed != nil {
			m["allowedValues"] = allowed
		}
		return m
	}
	var prios []any
	for _, pn := range s.opts.Priorities {
		prios = append(prios, map[string]any{"id": s.priorityID(pn), "name": pn})
	}
	list := []any{
		field("summary", "Summary", true, map[string]any{"type": "string", "system": "summary"}, nil),
		field("issuetype", "Issue Type", true, map[string]any{"type": "issuetype", "system": "issuetype"}, nil),
		field("project", "Project", true, map[string]any{"type": "project", "system": "project"}, nil),
		field("description", "Description", false, map[string]any{"type": "string", "system": "description"}, nil),
		field("priority", "Priority", false, map[string]any{"type": "priority", "system": "priority"}, prios),
		field("labels", "Labels", false, map[string]any{"type": "array", "items": "string", "system": "labels"}, nil),
		field("assignee", "Assignee", false, map[string]any{"type": "user", "system": "assignee"}, nil),
		field("reporter", "Reporter", false, map[string]any{"type": "user", "system": "reporter"}, nil),
	}
	for _, f := range p.Fields {
		typ := f.Type
		if typ == "" {
			typ = "string"
		}
		var allowed []any
		for i, a := range f.AllowedValues {
			allowed = append(allowed, map[string]any{"id": strconv.Itoa(10100 + i), "value": a})
		}
		list = append(list, field(f.ID, f.Name, f.Required, map[string]any{"type": typ, "custom": "com.atlassian.jira.plugin.system.customfieldtypes:textfield", "customId": strings.TrimPrefix(f.ID, "customfield_")}, allowed))
	}
	start, max := pageParams(r)
	total := len(list)
	list = list[min(start, len(list)):min(len(list), start+max)]
	key := "fields"
	if !s.cloud {
		key = "values"
	}
	writeJSON(w, http.StatusOK, map[string]any{key: list, "startAt": start, "maxResults": max, "total": total, "isLast": start+len(list) >= total})
}

// browse is a plain page, so links alertbridge puts in alerts lead somewhere
// when someone tries the sandbox by hand.
func (s *Sandbox) browse(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	is, ok := s.byKey[r.PathValue("key")]
	var text string
	if ok {
		text = fmt.Sprintf("%s  [%s]  %s\n\nlabels: %s\npriority: %s\n\n%s\n", is.Key, is.Status.Name, is.Summary,
			strings.Join(is.Labels, ", "), is.Priority, s.renderRich(is.Description, 2))
	}
	s.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprint(w, text)
}
