package inbound_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/alertbridge/alertbridge/alert"
	"github.com/alertbridge/alertbridge/internal/hmacsig"
	"github.com/alertbridge/alertbridge/internal/testdb"
	"github.com/alertbridge/alertbridge/store"
)

// TestBadBytesInWebhooks: a signed webhook carrying a NUL where the
// receiver looks up or stores text is a 400 naming the field on both
// databases (it was a 500 on PostgreSQL, which Jira retries), and changes
// nothing.
func TestBadBytesInWebhooks(t *testing.T) {
	testdb.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver, nil)
		e.linkAlert(t, "sec", "a-1", "SEC-1", "10001", alert.StatusOpen)
		nulUser := `{"accountId":"human-1","displayName":"Ada\u0000"}`
		for _, tt := range []struct {
			name  string
			body  []byte
			field string
		}{
			{"comment author display name", comment("comment_created", "600", nulUser, `"hello"`), "comment.author.displayName"},
			{"comment body", comment("comment_created", "601", human, `"HIGH\u0000"`), "comment.body"},
			{"comment body in ADF", comment("comment_created", "602", human,
				`{"type":"doc","version":1,"content":[{"type":"paragraph","content":[{"type":"text","text":"a\u0000"}]}]}`),
				"comment.body.content[0].content[0].text"},
			{"comment id", replace(comment("comment_created", "604", human, `"hello"`), `"604"`, `"6\u00004"`), "comment.id"},
			{"issue key", replace(comment("comment_created", "603", human, `"hello"`), `"SEC-1"`, `"SEC\u0000-1"`), "issue.key"},
			{"user display name", statusChange(nulUser, "Done", "done"), "user.displayName"},
			{"status name", replace(statusChange(human, "Done", "done"), `"name":"Done"`, `"name":"Do\u0000ne"`), "issue.fields.status.name"},
			{"changelog value", replace(statusChange(human, "Done", "done"), `"toString":"Done"`, `"toString":"\u0000"`), "changelog.items[0].toString"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				status, resp := e.post(t, "sec", tt.body, hmacsig.Sign(secret, tt.body), "")
				if status != http.StatusBadRequest || !strings.Contains(resp, `"code":"invalid_field"`) ||
					!strings.Contains(resp, `"field":"`+tt.field+`"`) {
					t.Errorf("%d %s; want 400 invalid_field naming %s", status, resp, tt.field)
				}
			})
		}
		latin1 := replace(comment("comment_created", "605", human, `"hello"`), "hello", "caf\xe9")
		if status, resp := e.post(t, "sec", latin1, hmacsig.Sign(secret, latin1), ""); status != http.StatusBadRequest ||
			!strings.Contains(resp, "not valid UTF-8") || strings.Contains(resp, `"field"`) {
			t.Errorf("body not UTF-8: %d %s; want 400 naming no field", status, resp)
		}
		body := statusChange(human, "Done", "done")
		status, resp := e.post(t, "sec", body, hmacsig.Sign(secret, body), "delivery-\xff")
		if status != http.StatusBadRequest || !strings.Contains(resp, `"field":"X-Atlassian-Webhook-Identifier"`) {
			t.Errorf("identifier not UTF-8: %d %s; want 400 naming the header", status, resp)
		}
		r := e.record(t, "a-1")
		if r.Alert.Status != alert.StatusOpen || len(r.Comments) != 0 || len(r.Timeline) != 0 {
			t.Errorf("refused webhooks changed the alert: %s, comments %+v, timeline %+v", r.Alert.Status, r.Comments, r.Timeline)
		}
	})
}

// replace puts new for the first old in a webhook body.
func replace(body []byte, old, new string) []byte {
	out := bytes.Replace(body, []byte(old), []byte(new), 1)
	if bytes.Equal(out, body) {
		panic(fmt.Sprintf("%q is not in %s", old, body))
	}
	return out
}

// TestCommentLinkedToAnotherAlert: Jira sending a comment that is already
// another alert's gets a 204, since a retry cannot help, and neither alert
// changes; the delivery counts as seen, so its retries are no-ops too.
func TestCommentLinkedToAnotherAlert(t *testing.T) {
	testdb.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver, nil)
		e.linkAlert(t, "sec", "a-1", "SEC-1", "10001", alert.StatusOpen)
		e.linkAlert(t, "sec", "a-2", "SEC-2", "10002", alert.StatusOpen)
		first := comment("comment_created", "700", human, `"on SEC-1"`)
		if status, resp := e.post(t, "sec", first, hmacsig.Sign(secret, first), "d-1"); status != http.StatusNoContent {
			t.Fatalf("first comment: %d %s", status, resp)
		}
		again := strings.NewReplacer(`"10001"`, `"10002"`, `"SEC-1"`, `"SEC-2"`, "on SEC-1", "moved").Replace(string(first))
		for i := range 2 {
			if status, resp := e.post(t, "sec", []byte(again), hmacsig.Sign(secret, []byte(again)), "d-2"); status != http.StatusNoContent {
				t.Fatalf("delivery %d of the comment linked to a-1, for a-2: %d %s; want 204", i+1, status, resp)
			}
		}
		if r := e.record(t, "a-2"); len(r.Comments) != 0 || len(r.Timeline) != 0 {
			t.Errorf("a-2 changed: comments %+v, timeline %+v", r.Comments, r.Timeline)
		}
		if r := e.record(t, "a-1"); len(r.Comments) != 1 || !strings.HasSuffix(r.Comments[0].Body, "on SEC-1") {
			t.Errorf("a-1's comment changed: %+v", r.Comments)
		}
		var seen bool
		err := e.st.View(ctx(), func(tx store.Tx) (err error) {
			seen, err = tx.JiraWebhookSeen(ctx(), "sec", "d-2")
			return err
		})
		if err != nil || !seen {
			t.Errorf("delivery d-2 seen = %v, %v; want it recorded as handled", seen, err)
		}
	})
}

// webhookSeeds are the webhooks issue 8 measured answering 500: NUL in an
// author's display name or an issue key (64 of 8,000 fuzzed requests, on
// PostgreSQL), and a comment id already linked to another alert (on both).
var webhookSeeds = []struct {
	body  []byte
	ident string
}{
	{comment("comment_created", "800", `{"accountId":"human-1","displayName":"\u0000"}`, `"x"`), ""},
	{replace(comment("comment_created", "801", human, `"x"`), `"SEC-1"`, `"SEC-1\u0000"`), ""},
	{comment("comment_created", "802", human, `"HIGH\u0000"`), ""},
	{statusChange(`{"accountId":"h\u0000"}`, "Done", "done"), ""},
	{statusChange(human, "In Progress", "indeterminate"), "id-\xc0\x80"},
	{comment("comment_created", "900", human, `"linked to a-2 already"`), ""},
	{[]byte(`{"webhookEvent":"jira:issue_updated","issue":{"id":"10001","key":"SEC-1","fields":{"assignee":{"accountId":"x","emailAddress":"\u0000"}}},` +
		`"issue_event_type_name":"issue_assigned","changelog":{"items":[]}}`), ""},
	{[]byte(`{"webhookEvent":"comment_created","comment":{"id":"901","self":"https://j/rest/api/2/issue/1\u0000/comment/2","body":"x"}}`), ""},
	{statusChange(human, "Done", "done"), "delivery-1"},
	{[]byte("{\"webhookEvent\":\"comment_created\",\"issue\":{\"key\":\"SEC-1\"},\"comment\":{\"id\":\"902\",\"body\":\"caf\xe9\"}}"), ""},
}

// hookServers are SQLite and, when there is one (always under CI=true),
// PostgreSQL, each with SEC-1 linked to a-1 and Jira comment 900 already
// linked to a-2.
func hookServers(tb testing.TB) map[string]*env {
	drivers := []string{"sqlite"}
	if os.Getenv(testdb.PostgresEnv) != "" || os.Getenv("CI") == "true" {
		drivers = append(drivers, "postgres")
	} else {
		tb.Logf("%s is not set: fuzzing SQLite only", testdb.PostgresEnv)
	}
	out := map[string]*env{}
	for _, d := range drivers {
		e := newEnv(tb, d, nil)
		e.linkAlert(tb, "sec", "a-1", "SEC-1", "10001", alert.StatusOpen)
		e.linkAlert(tb, "sec", "a-2", "SEC-2", "10002", alert.StatusOpen)
		err := e.st.InTx(ctx(), func(tx store.Tx) error {
			c := &alert.Comment{AlertID: "a-2", Author: "jira:Ada", Body: "from Jira", Origin: "jira:sec"}
			if err := tx.AddComment(ctx(), c); err != nil {
				return err
			}
			return tx.LinkComment(ctx(), "a-2", c.ID, "sec", "900", store.LinkOriginJira)
		})
		if err != nil {
			tb.Fatal(err)
		}
		out[d] = e
	}
	return out
}

// FuzzWebhook posts signed webhooks to SQLite and PostgreSQL: none may
// answer 5xx, which Jira retries, and the two must answer alike. Its seeds
// run as a normal test.
func FuzzWebhook(f *testing.F) {
	f.Add(statusChange(human, "Done", "done"), "")
	f.Add(comment("comment_updated", "1", human, `{"type":"doc","version":1,"content":[]}`), "")
	for _, s := range webhookSeeds {
		f.Add(s.body, s.ident)
	}
	servers := hookServers(f)
	f.Fuzz(func(t *testing.T, body []byte, ident string) {
		statuses := map[string]int{}
		for _, d := range []string{"sqlite", "postgres"} {
			e, ok := servers[d]
			if !ok {
				continue
			}
			req, err := http.NewRequest(http.MethodPost, e.srv.URL+"/webhooks/jira/sec", bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("X-Hub-Signature", hmacsig.Sign(secret, body))
			req.Header.Set("X-Atlassian-Webhook-Identifier", ident)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				// A header value the client refuses to send (a NUL, a
				// newline) never reaches the server on either database.
				if strings.Contains(err.Error(), "invalid header field value") {
					return
				}
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode >= 500 {
				t.Errorf("%s answered %d %s to %q (identifier %q)", d, resp.StatusCode, b, body, ident)
			}
			statuses[d] = resp.StatusCode
		}
		if s, p := statuses["sqlite"], statuses["postgres"]; s != 0 && p != 0 && s != p {
			t.Errorf("SQLite answered %d, PostgreSQL %d to %q (identifier %q)", s, p, body, ident)
		}
	})
}
