package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// fakeWebhookAPI is Jira's webhook registration across the network,
// answering status and keeping what it was sent.
func fakeWebhookAPI(t *testing.T, status int) (*httptest.Server, *map[string]any) {
	var got map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/rest/webhooks/1.0/webhook" {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		_ = json.NewDecoder(r.Body).Decode(&got)
		w.WriteHeader(status)
		if status < 300 {
			fmt.Fprintf(w, `{"self":"%s/rest/webhooks/1.0/webhook/1","name":"x"}`, "http://"+r.Host)
		} else {
			fmt.Fprint(w, `{"errorMessages":["no"]}`)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &got
}

func TestJiraWebhookRegister(t *testing.T) {
	t.Setenv("JIRA_TOKEN", "tok")
	t.Setenv("HOOK_SECRET_TEST", "s3cret-value")
	cfg := func(url, sync string) string {
		return writeConfig(t, fmt.Sprintf(`
server: {public_url: "https://ab.example.com"}
destinations:
  - name: sec-jira
    type: jira
    jira:
      url: %s
      deployment: cloud
      email: bot@example.com
      token_env: JIRA_TOKEN
      project: SEC
      labels: [security-detection, extra]
      sync: %s
`, url, sync))
	}
	twoWay := "{status: two-way, webhook_secret_env: HOOK_SECRET_TEST}"
	run1 := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := jiraWebhook(context.Background(), args, &out, &errb)
		return code, out.String(), errb.String()
	}

	srv, got := fakeWebhookAPI(t, http.StatusCreated)
	code, out, errOut := run1("register", "--config", cfg(srv.URL, twoWay), "sec-jira")
	if code != 0 || !strings.Contains(out, "registered the Jira webhook for sec-jira") {
		t.Fatalf("register: %d %q %q", code, out, errOut)
	}
	want := map[string]any{
		"name": "alertbridge sec-jira", "url": "https://ab.example.com/webhooks/jira/sec-jira",
		"events":  []any{"jira:issue_updated", "comment_created", "comment_updated"},
		"filters": map[string]any{"issue-related-events-section": "project = SEC AND labels = security-detection"},
		"secret":  "s3cret-value", "excludeBody": false,
	}
	if g, w := fmt.Sprint(*got), fmt.Sprint(want); g != w {
		t.Errorf("sent %s\nwant %s", g, w)
	}

	srv, _ = fakeWebhookAPI(t, http.StatusForbidden)
	code, out, errOut = run1("register", "--config", cfg(srv.URL, twoWay), "sec-jira")
	if code != 0 || !strings.Contains(out, "https://ab.example.com/webhooks/jira/sec-jira") ||
		!strings.Contains(out, "project = SEC AND labels = security-detection") || !strings.Contains(out, "comment_updated") ||
		!strings.Contains(out, "env HOOK_SECRET_TEST") || strings.Contains(out+errOut, "s3cret-value") {
		t.Errorf("403 guidance: %d %q %q", code, out, errOut)
	}

	srv, _ = fakeWebhookAPI(t, http.StatusUnauthorized)
	if code, out, errOut = run1("register", "--config", cfg(srv.URL, twoWay), "sec-jira"); code != 1 || strings.Contains(out+errOut, "s3cret-value") {
		t.Errorf("401: %d %q %q", code, out, errOut)
	}
	if code, _, errOut = run1("register", "--config", cfg(srv.URL, "{status: one-way}"), "sec-jira"); code != 1 || !strings.Contains(errOut, "no two-way sync") {
		t.Errorf("one-way: %d %q", code, errOut)
	}
	if code, _, _ = run1("register", "--config", cfg(srv.URL, twoWay), "nope"); code != 1 {
		t.Errorf("unknown destination: %d", code)
	}
}

func TestJQLQuote(t *testing.T) {
	for in, want := range map[string]string{"SEC": "SEC", "security-detection": "security-detection", `a b"c`: `"a b\"c"`, "": `""`} {
		if got := jqlQuote(in); got != want {
			t.Errorf("jqlQuote(%q) = %s, want %s", in, got, want)
		}
	}
}
