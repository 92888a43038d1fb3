package jira_test

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/alertbridge/alertbridge/internal/upstream"
	"github.com/alertbridge/alertbridge/jira"
)

// Real and documented Jira responses decode into the client's types.
func TestResponseSamplesDecode(t *testing.T) {
	read := func(elem ...string) []byte {
		t.Helper()
		b, err := os.ReadFile(upstream.Path(t, append([]string{"jira-responses"}, elem...)...))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var ref jira.IssueRef
	if err := json.Unmarshal(read("spec-examples-cloud-v3", "createIssue.response-201.json"), &ref); err != nil || ref.Key == "" || ref.ID == "" {
		t.Errorf("createIssue: %+v %v", ref, err)
	}
	for _, f := range [][]string{{"bytebase-example-api", "cloud-2024-get-issue-v3-API-1.json"}, {"spec-examples-cloud-v3", "getIssue.response-200.json"}, {"jira-to-matrix", "issue.json"}} {
		var is jira.Issue
		if err := json.Unmarshal(read(f...), &is); err != nil || is.Key == "" || len(is.Fields) == 0 {
			t.Errorf("%s: %v", f[1], err)
		}
	}
	for _, f := range [][]string{{"spec-examples-cloud-v3", "getTransitions.response-200.json"}, {"sentry", "transition_response.json"}, {"jira-to-matrix", "transitions.json"}} {
		var tr struct{ Transitions []jira.Transition }
		if err := json.Unmarshal(read(f...), &tr); err != nil || len(tr.Transitions) == 0 || tr.Transitions[0].ID == "" {
			t.Errorf("%s: %+v %v", f[1], tr, err)
		}
	}
	var tr struct{ Transitions []jira.Transition }
	_ = json.Unmarshal(read("spec-examples-cloud-v3", "getTransitions.response-200.json"), &tr)
	if tr.Transitions[0].To.Category == "" {
		t.Errorf("status category not decoded: %+v", tr.Transitions[0])
	}
	var me jira.User
	if err := json.Unmarshal(read("go-atlassian-mocks", "get-myselft.json"), &me); err != nil || me.AccountID == "" {
		t.Errorf("myself: %+v %v", me, err)
	}
	for _, f := range [][]string{{"spec-examples-cloud-v3", "findUsers.response-200.json"}, {"sentry", "user_search_response.json"}} {
		var us []jira.User
		if err := json.Unmarshal(read(f...), &us); err != nil || len(us) == 0 {
			t.Errorf("%s: %v", f[1], err)
		}
	}
	var cm jira.Comment
	if err := json.Unmarshal(read("spec-examples-cloud-v3", "addComment.response-201.json"), &cm); err != nil || cm.ID == "" || len(cm.Body) == 0 || cm.Author.AccountID == "" {
		t.Errorf("comment: %+v %v", cm, err)
	}
	var page struct {
		Comments []jira.CommentWithProperties
		Total    int
	}
	if err := json.Unmarshal(read("go-atlassian-mocks", "get-issue-comments.json"), &page); err != nil || len(page.Comments) == 0 || page.Total == 0 ||
		page.Comments[0].ID == "" || page.Comments[0].Created == "" || page.Comments[0].Author.AccountID == "" || len(page.Comments[0].Body) == 0 {
		t.Errorf("comments page: %+v %v", page, err)
	}
	var one jira.CommentWithProperties
	if err := json.Unmarshal(read("go-atlassian-mocks", "get-issue-comment-by-id.json"), &one); err != nil || one.ID == "" || one.Properties != nil {
		t.Errorf("comment by id: %+v %v", one, err)
	}
	var si jira.ServerInfo
	if err := json.Unmarshal(read("spec-examples-cloud-v3", "getServerInfo.response-200.json"), &si); err != nil || si.BaseURL == "" || si.Version == "" {
		t.Errorf("serverInfo: %+v %v", si, err)
	}
	var fm struct{ Fields []jira.FieldMeta }
	if err := json.Unmarshal(read("spec-examples-cloud-v3", "getCreateIssueMetaIssueTypeId.response-200.json"), &fm); err != nil || len(fm.Fields) == 0 || fm.Fields[0].ID == "" {
		t.Errorf("createmeta fields: %+v %v", fm, err)
	}
	var it struct{ IssueTypes []jira.IssueType }
	if err := json.Unmarshal(read("spec-examples-cloud-v3", "getCreateIssueMetaIssueTypes.response-200.json"), &it); err != nil || len(it.IssueTypes) == 0 {
		t.Errorf("createmeta types: %+v %v", it, err)
	}
	var eb struct {
		ErrorMessages []string
		Errors        map[string]string
	}
	if err := json.Unmarshal(read("go-atlassian-mocks", "validate-project-error-message.json"), &eb); err != nil || len(eb.Errors) == 0 {
		t.Errorf("error body: %+v %v", eb, err)
	}
}
