package openapicheck_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/alertbridge/alertbridge/jira"
	"github.com/alertbridge/alertbridge/jira/sandbox/openapicheck"
)

// The checker must reject what Jira would: a no-op validator would let every
// client test pass.
func TestCheckRejects(t *testing.T) {
	cloud := openapicheck.For(t, jira.DeploymentCloud)
	dc := openapicheck.For(t, jira.DeploymentDataCenter)
	cases := []struct {
		name   string
		c      *openapicheck.Checker
		method string
		path   string
		body   string
		ok     bool
	}{
		{"cloud create", cloud, "POST", "/rest/api/3/issue", `{"fields":{"summary":"s","description":{"type":"doc","version":1,"content":[{"type":"paragraph","content":[{"type":"text","text":"x"}]}]}}}`, true},
		{"cloud bad ADF", cloud, "POST", "/rest/api/3/issue", `{"fields":{"description":{"type":"doc","version":1,"content":[{"type":"paragraph","content":[{"type":"bogus"}]}]}}}`, false},
		{"cloud unknown path", cloud, "GET", "/rest/api/3/nothing/here", ``, false},
		{"cloud wrong method", cloud, "DELETE", "/rest/api/3/search/jql", ``, false},
		{"cloud search unknown key", cloud, "POST", "/rest/api/3/search/jql", `{"jql":"x","startAt":0}`, false},
		{"cloud v2 serverInfo", cloud, "GET", "/rest/api/2/serverInfo", ``, true},
		{"dc search", dc, "POST", "/rest/api/2/search", `{"jql":"project = SEC","maxResults":5,"startAt":0}`, true},
		{"dc comment body not string", dc, "POST", "/rest/api/2/issue/SEC-1/comment", `{"body":{"type":"doc"}}`, false},
		{"dc outside /rest", dc, "GET", "/api/2/serverInfo", ``, false},
		// A comment created with its marker property, and the listing that
		// finds it again.
		{"cloud comment with property", cloud, "POST", "/rest/api/3/issue/SEC-1/comment", `{"body":{"type":"doc","version":1,"content":[{"type":"paragraph","content":[{"type":"text","text":"x"}]}]},"properties":[{"key":"alertbridge","value":{"alertComment":7}}]}`, true},
		{"cloud comment property extra key", cloud, "POST", "/rest/api/3/issue/SEC-1/comment", `{"body":{"type":"doc","version":1,"content":[{"type":"paragraph","content":[{"type":"text","text":"x"}]}]},"properties":[{"key":"k","value":{},"self":"x"}]}`, false},
		{"cloud comment properties not a list", cloud, "POST", "/rest/api/3/issue/SEC-1/comment", `{"body":{"type":"doc","version":1,"content":[{"type":"paragraph","content":[{"type":"text","text":"x"}]}]},"properties":{"k":{}}}`, false},
		{"cloud list comments", cloud, "GET", "/rest/api/3/issue/SEC-1/comment?startAt=100&maxResults=100&orderBy=created&expand=properties", ``, true},
		{"cloud list comments bad order", cloud, "GET", "/rest/api/3/issue/SEC-1/comment?orderBy=updated", ``, false},
		{"cloud get comment", cloud, "GET", "/rest/api/3/issue/SEC-1/comment/10001?expand=properties", ``, true},
		{"dc comment with object property", dc, "POST", "/rest/api/2/issue/SEC-1/comment", `{"body":"x","properties":[{"key":"alertbridge","value":{"alertComment":7}}]}`, true},
		{"dc comment properties not a list", dc, "POST", "/rest/api/2/issue/SEC-1/comment", `{"body":"x","properties":{"k":{}}}`, false},
		{"dc list comments", dc, "GET", "/rest/api/2/issue/SEC-1/comment?startAt=0&maxResults=100&orderBy=created&expand=properties", ``, true},
		{"dc get comment", dc, "GET", "/rest/api/2/issue/SEC-1/comment/10001?expand=properties", ``, true},
	}
	for _, tc := range cases {
		r := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
		if tc.body != "" {
			r.Header.Set("Content-Type", "application/json")
		}
		err := tc.c.Check(r, []byte(tc.body))
		if (err == nil) != tc.ok {
			t.Errorf("%s: err = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}
