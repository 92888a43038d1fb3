package httpapi_test

import (
	"context"

	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alertbridge/alertbridge/alert"
	"github.com/alertbridge/alertbridge/internal/testdb"
	"github.com/alertbridge/alertbridge/store"
)

// logRules writes two rules over the log type Test.Login: one raising an
// alert per user after three failed logins within an hour, and one that
// fails on any event with a "boom" field.
func logRules(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"failures.yml": `AnalysisType: rule
RuleID: Test.LoginFailures
DisplayName: Repeated login failures
Enabled: true
Filename: failures.py
LogTypes: [Test.Login]
Severity: Medium
Threshold: 3
DedupPeriodMinutes: 60
Runbook: Check the user.
Tests: []
`,
		"failures.py": `def rule(event):
    return event.get("outcome") == "fail"

def title(event):
    return "Login failures for " + event.get("user")

def dedup(event):
    return event.get("user")

def alert_context(event):
    return {"user": event.get("user"), "ip": event.get("ip")}
`,
		"broken.yml": `AnalysisType: rule
RuleID: Test.Broken
DisplayName: A rule with a bug
Enabled: true
Filename: broken.py
LogTypes: [Test.Login]
Severity: Low
Tests: []
`,
		"broken.py": `def rule(event):
    if "boom" in event:
        return 1 // 0
    return False
`,
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

type detectionAlertJSON struct {
	alertJSON
	ID        string `json:"id"`
	Type      string `json:"type"`
	Detection *struct {
		MatchCount int       `json:"matchCount"`
		FirstSeen  time.Time `json:"firstSeen"`
		LastSeen   time.Time `json:"lastSeen"`
	} `json:"detection"`
}

// alertsOfRule lists every stored alert a rule raised.
func (e *env) alertsOfRule(t *testing.T, ruleID string) []detectionAlertJSON {
	t.Helper()
	var page struct {
		Alerts []detectionAlertJSON `json:"alerts"`
	}
	want(t, e.do(t, http.MethodGet, "/api/v1/alerts?limit=500", ""), http.StatusOK, &page)
	var out []detectionAlertJSON
	for _, a := range page.Alerts {
		if a.ID == ruleID {
			var full detectionAlertJSON
			want(t, e.do(t, http.MethodGet, "/api/v1/alerts/"+a.AlertID, ""), http.StatusOK, &full)
			out = append(out, full)
		}
	}
	return out
}

func loginEvent(user, outcome string, at time.Time) string {
	return fmt.Sprintf(`{"user":%q,"outcome":%q,"ip":"192.0.2.1","time":%q}`, user, outcome, at.Format(time.RFC3339))
}

func TestPostLogsThresholdDedupAndRuleErrors(t *testing.T) {
	testdb.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver, options{rules: logRules(t)})
		t0 := time.Now().UTC().Truncate(time.Second).Add(-10 * time.Minute)
		post := func(body, ct string) response {
			return e.send(t, http.MethodPost, "/api/v1/logs/Test.Login", body, map[string]string{"Content-Type": ct})
		}

		// Two failures: below the threshold, no alert.
		var got struct{ Accepted, Rules int }
		want(t, post(loginEvent("alice", "fail", t0)+"\n"+loginEvent("alice", "fail", t0.Add(time.Minute))+"\n", "application/x-ndjson"),
			http.StatusAccepted, &got)
		if got.Accepted != 2 || got.Rules != 2 {
			t.Errorf("answer %+v, want 2 accepted by 2 rules", got)
		}
		if as := e.alertsOfRule(t, "Test.LoginFailures"); len(as) != 0 {
			t.Fatalf("%d alerts below the threshold", len(as))
		}
		// The third raises it (a JSON array this time), the fourth joins it.
		arr := "[" + loginEvent("alice", "fail", t0.Add(2*time.Minute)) + "," + loginEvent("alice", "ok", t0) + "," +
			loginEvent("alice", "fail", t0.Add(3*time.Minute)) + "]"
		want(t, post(arr, "application/json"), http.StatusAccepted, &got)
		if got.Accepted != 3 {
			t.Errorf("accepted %d, want 3", got.Accepted)
		}
		as := e.alertsOfRule(t, "Test.LoginFailures")
		if len(as) != 1 {
			t.Fatalf("%d alerts, want 1", len(as))
		}
		a := as[0]
		if a.Title != "Login failures for alice" || a.Severity != "MEDIUM" || a.Type != "RULE" || a.Detection == nil ||
			a.Detection.MatchCount != 4 || !a.Detection.FirstSeen.Equal(t0) || !a.Detection.LastSeen.Equal(t0.Add(3*time.Minute)) {
			t.Errorf("alert %+v detection %+v", a, a.Detection)
		}
		e.waitDelivery(t, a.AlertID, "hook", 1, "delivered")

		// Once the alert has an issue, further matches add one comment per
		// dedup period, not one per match.
		err := e.st.InTx(context.Background(), func(tx store.Tx) error {
			return tx.UpsertIssue(context.Background(), a.AlertID, alert.Issue{Destination: "hook", Key: "SEC-1", URL: "https://jira.example/SEC-1"})
		})
		if err != nil {
			t.Fatal(err)
		}
		want(t, post(loginEvent("alice", "fail", t0.Add(4*time.Minute)), "application/json"), http.StatusAccepted, nil)
		want(t, post(loginEvent("alice", "fail", t0.Add(5*time.Minute)), "application/json"), http.StatusAccepted, nil)
		full := e.alert(t, a.AlertID)
		if len(full.Comments) != 1 || !strings.Contains(full.Comments[0].Body, "**2 new matches**") {
			t.Errorf("comments %+v, want one summarising the 2 matches since the raise", full.Comments)
		}
		as = e.alertsOfRule(t, "Test.LoginFailures")
		if len(as) != 1 || as[0].Detection.MatchCount != 6 {
			t.Fatalf("after more matches: %d alerts, %+v", len(as), as)
		}

		// A rule that fails raises one RULE_ERROR alert however often it
		// fails, and the other rule still sees the events.
		want(t, post(`{"user":"bob","outcome":"fail","boom":1}`+"\n"+`{"user":"bob","outcome":"fail","boom":2}`, "application/x-ndjson"),
			http.StatusAccepted, nil)
		errs := e.alertsOfRule(t, "Test.Broken")
		if len(errs) != 1 || errs[0].Type != "RULE_ERROR" {
			t.Errorf("rule error alerts %+v, want one RULE_ERROR", errs)
		}
		// Every alert went to the hook exactly once.
		time.Sleep(200 * time.Millisecond)
		if n := len(e.hooks["hook"].hitsFor(t, a.AlertID)); n != 1 {
			t.Errorf("the threshold alert was delivered %d times, want 1", n)
		}
	})
}

func TestPostLogsRejects(t *testing.T) {
	testdb.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver, options{rules: logRules(t)})
		ct := func(v string) map[string]string { return map[string]string{"Content-Type": v} }
		path := "/api/v1/logs/Test.Login"
		for _, tc := range []struct {
			name, body, ct string
			status         int
			code, field    string
		}{
			{"array item not an object", `[{"a":1}, 2, {"b":3}, {"c":4}]`, "application/json", 400, "invalid_field", "events[1]"},
			{"array item bad JSON", `[{"a":1}, {"b":2}, {"c":3}, {"d":}]`, "application/json", 400, "invalid_field", "events[3]"},
			{"ndjson bad line", "{\"a\":1}\n\n{\"b\":2}\n{oops\n", "application/x-ndjson", 400, "invalid_field", "line 4"},
			{"ndjson two values on a line", "{\"a\":1} {\"b\":2}\n", "application/x-ndjson", 400, "invalid_field", "line 1"},
			{"empty body", "  \n", "application/json", 400, "invalid_field", "events"},
			{"empty array", "[]", "application/json", 400, "invalid_field", "events"},
			{"not JSON", `{"a":1}`, "text/plain", 415, "unsupported_media_type", ""},
			{"too big", "[" + strings.Repeat(`{"a":"`+strings.Repeat("x", 1000)+`"},`, 1100) + `{}]`, "application/json", 413, "payload_too_large", ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				wantError(t, e.send(t, http.MethodPost, path, tc.body, ct(tc.ct)), tc.status, tc.code, tc.field)
			})
		}
		r := e.send(t, http.MethodPost, path, `{"a":1}`, map[string]string{"Authorization": ""})
		wantError(t, r, http.StatusUnauthorized, "unauthorized", "")

		// A log type no rule reads is accepted, and the answer says so.
		var got map[string]int
		want(t, e.send(t, http.MethodPost, "/api/v1/logs/Nobody.Listens", `[{"a":1},{"b":2}]`, ct("application/json")), http.StatusAccepted, &got)
		if got["accepted"] != 2 || got["rules"] != 0 {
			t.Errorf("unknown log type: %v, want 2 accepted by 0 rules", got)
		}
	})
}

func TestPostLogsRateLimited(t *testing.T) {
	e := newEnv(t, "sqlite", options{rules: logRules(t), ingestRate: 1, ingestBurst: 1})
	ct := map[string]string{"Content-Type": "application/json"}
	want(t, e.send(t, http.MethodPost, "/api/v1/logs/Test.Login", `{"a":1}`, ct), http.StatusAccepted, nil)
	r := e.send(t, http.MethodPost, "/api/v1/logs/Test.Login", `{"a":1}`, ct)
	wantError(t, r, http.StatusTooManyRequests, "rate_limited", "")
	if r.header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
}
