package inbound_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/alertbridge/alertbridge/alert"
	"github.com/alertbridge/alertbridge/internal/hmacsig"
	"github.com/alertbridge/alertbridge/internal/testdb"
	"github.com/alertbridge/alertbridge/jirasync/inbound"
	"github.com/alertbridge/alertbridge/store"
)

func statusChange(user, to, category string) []byte {
	return fmt.Appendf(nil, `{"webhookEvent":"jira:issue_updated","issue_event_type_name":"issue_generic","timestamp":"2019-1-30 15:51:34,870",
		"user":%s,"issue":{"id":"10001","key":"SEC-1","fields":{"status":{"id":"3","name":%q,"statusCategory":{"key":%q}}}},
		"changelog":{"items":[{"field":"status","fieldId":"status","from":"1","to":"3","fromString":"To Do","toString":%q}]}}`,
		user, to, category, to)
}

func comment(event, id, author, body string) []byte {
	return fmt.Appendf(nil, `{"webhookEvent":%q,"timestamp":1550286678321,"issue":{"id":"10001","key":"SEC-1"},
		"comment":{"id":%q,"author":%s,"updateAuthor":%s,"body":%s}}`, event, id, author, author, body)
}

const (
	human = `{"accountId":"human-1","displayName":"Ada"}`
	bot   = `{"accountId":"svc-1","displayName":"alertbridge bot"}`
	dcBot = `{"name":"alertbridge","key":"alertbridge","displayName":"alertbridge bot"}`
)

func TestSignatureAndDestination(t *testing.T) {
	e := newEnv(t, "sqlite", nil)
	e.linkAlert(t, "sec", "a-1", "SEC-1", "10001", alert.StatusOpen)
	body := statusChange(human, "In Progress", "indeterminate")
	for _, c := range []struct {
		name, dest, sig string
		want            int
	}{
		{"missing", "sec", "", 401},
		{"wrong secret", "sec", hmacsig.Sign("other", body), 401},
		{"not sha256", "sec", "sha1=" + strings.Repeat("0", 40), 401},
		{"not hex", "sec", "sha256=zz", 401},
		{"unknown destination", "nope", hmacsig.Sign(secret, body), 401},
		{"destination without two-way sync", "oneway", hmacsig.Sign(secret, body), 401},
		{"right", "sec", hmacsig.Sign(secret, body), 204},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, resp := e.post(t, c.dest, body, c.sig, "")
			if status != c.want {
				t.Fatalf("status %d, want %d: %s", status, c.want, resp)
			}
			if c.want == 401 && !strings.Contains(resp, `"code":"unauthorized"`) {
				t.Errorf("body %s lacks the error shape", resp)
			}
			if c.want == 401 && e.record(t, "a-1").Alert.Status != alert.StatusOpen {
				t.Error("an unauthorised webhook changed the alert")
			}
		})
	}
	if got := e.record(t, "a-1").Alert.Status; got != alert.StatusTriaged {
		t.Errorf("status = %s after the signed webhook", got)
	}
}

func TestMalformed(t *testing.T) {
	e := newEnv(t, "sqlite", nil)
	for _, c := range []struct{ body, field string }{
		{`not json`, ""},
		{`[1,2]`, ""},
		{`{"webhookEvent":"jira:issue_updated","issue":{"key":{"x":1}}}`, "issue.key"},
		{`{"webhookEvent":"comment_created","comment":{"id":"1","body":42}}`, "comment.body"},
		{`{"webhookEvent":"comment_created","comment":{"id":"1","body":{"type":"paragraph"}}}`, "comment.body"},
	} {
		status, resp := e.post(t, "sec", []byte(c.body), hmacsig.Sign(secret, []byte(c.body)), "")
		if status != 400 || !strings.Contains(resp, `"field":"`+c.field+`"`) && c.field != "" {
			t.Errorf("%s: %d %s; want 400 naming %q", c.body, status, resp, c.field)
		}
	}
	big := make([]byte, inbound.MaxBodyBytes+1)
	if status, _ := e.post(t, "sec", big, hmacsig.Sign(secret, big), ""); status != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized body: %d", status)
	}
}

func TestReplayLoopsAndComments(t *testing.T) {
	testdb.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver, nil)
		e.linkAlert(t, "sec", "a-1", "SEC-1", "10001", alert.StatusOpen)
		send := func(body []byte, ident string) {
			t.Helper()
			if status, resp := e.post(t, "sec", body, hmacsig.Sign(secret, body), ident); status != 204 {
				t.Fatalf("status %d: %s", status, resp)
			}
		}

		// Our service account's own change comes back: ignored.
		send(statusChange(bot, "Done", "done"), "")
		if r := e.record(t, "a-1"); r.Alert.Status != alert.StatusOpen || len(r.Timeline) != 0 {
			t.Fatalf("our own change was applied: %s %+v", r.Alert.Status, r.Timeline)
		}

		// A person's change applies once; the replay does nothing, even after
		// the alert moved on.
		send(statusChange(human, "Done", "done"), "delivery-1")
		if r := e.record(t, "a-1"); r.Alert.Status != alert.StatusResolved || r.Timeline[0].Actor != "jira:Ada" {
			t.Fatalf("after the change: %s %+v", r.Alert.Status, r.Timeline)
		}
		if _, err := e.svc.Update(ctx(), "a-1", alertsPatch(alert.StatusTriaged)); err != nil {
			t.Fatal(err)
		}
		send(statusChange(human, "Done", "done"), "delivery-1")
		if r := e.record(t, "a-1"); r.Alert.Status != alert.StatusTriaged {
			t.Fatalf("the replay was applied: %s", r.Alert.Status)
		}
		// The same status again records nothing.
		n := len(e.record(t, "a-1").Timeline)
		send(statusChange(human, "In Progress", "indeterminate"), "delivery-2")
		if got := len(e.record(t, "a-1").Timeline); got != n {
			t.Errorf("a no-op change recorded %d events", got-n)
		}

		// Comments: a person's is added, then edited in place.
		send(comment("comment_created", "500", human, `"*bold* and _it_"`), "")
		send(comment("comment_updated", "500", human, `{"type":"doc","version":1,"content":[{"type":"paragraph","content":[{"type":"text","text":"edited"}]}]}`), "")
		cs := e.record(t, "a-1").Comments
		if len(cs) != 1 || cs[0].Body != "[Ada] commented on Jira:\n\nedited" {
			t.Fatalf("comments = %+v", cs)
		}
		// Our account's comments, by author on Cloud or by name on DC, and
		// comments we posted (linked with origin alertbridge) are ignored.
		send(comment("comment_created", "501", bot, `"from the bot"`), "")
		send(comment("comment_created", "502", dcBot, `"from the bot on DC"`), "")
		err := e.st.InTx(ctx(), func(tx store.Tx) error {
			c := &alert.Comment{AlertID: "a-1", Author: "me", Body: "ours", Origin: "alertbridge"}
			if err := tx.AddComment(ctx(), c); err != nil {
				return err
			}
			return tx.LinkComment(ctx(), "a-1", c.ID, "sec", "503", store.LinkOriginAlertbridge)
		})
		if err != nil {
			t.Fatal(err)
		}
		send(comment("comment_created", "503", human, `"ours, seen by a person's edit"`), "")
		cs = e.record(t, "a-1").Comments
		if len(cs) != 2 || cs[1].Body != "ours" {
			t.Errorf("comments after loop checks = %+v", cs)
		}
	})
}

func TestDataCenterServiceAccount(t *testing.T) {
	e := newEnv(t, "sqlite", nil)
	e.linkAlert(t, "sec", "a-1", "SEC-1", "10001", alert.StatusOpen)
	body := statusChange(dcBot, "Done", "done")
	if status, _ := e.post(t, "sec", body, hmacsig.Sign(secret, body), ""); status != 204 {
		t.Fatal(status)
	}
	if got := e.record(t, "a-1").Alert.Status; got != alert.StatusOpen {
		t.Errorf("the DC service account's change was applied: %s", got)
	}
}

func TestReverseStatus(t *testing.T) {
	m := twoWay().StatusMap
	for _, c := range []struct {
		id, name, category string
		current            alert.Status
		want               alert.Status
		ok                 bool
	}{
		{"", "In Progress", "", alert.StatusOpen, alert.StatusTriaged, true},
		{"", "in progress", "", alert.StatusOpen, alert.StatusTriaged, true}, // names compare case-insensitively
		{"", "Done", "done", alert.StatusOpen, alert.StatusResolved, true},   // first of RESOLVED, CLOSED
		{"", "Done", "done", alert.StatusClosed, alert.StatusClosed, true},   // the current one of several
		{"", "Reopened", "new", alert.StatusResolved, alert.StatusOpen, true},
		{"", "Paused", "indeterminate", alert.StatusOpen, alert.StatusTriaged, true},
		{"", "Closed", "done", alert.StatusTriaged, alert.StatusResolved, true},
		{"", "Closed", "done", alert.StatusClosed, alert.StatusClosed, true},
		{"", "Weird", "", alert.StatusOpen, "", false},
		{"", "Weird", "undefined", alert.StatusOpen, "", false},
	} {
		got, ok := inbound.ReverseStatus(m, c.id, c.name, c.category, c.current)
		if got != c.want || ok != c.ok {
			t.Errorf("ReverseStatus(%q, %q, %q, %s) = %s, %v; want %s, %v", c.id, c.name, c.category, c.current, got, ok, c.want, c.ok)
		}
	}
	byID := map[alert.Status]string{alert.StatusTriaged: "10025"}
	if got, ok := inbound.ReverseStatus(byID, "10025", "Selected", "", alert.StatusOpen); got != alert.StatusTriaged || !ok {
		t.Errorf("by id: %s %v", got, ok)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(statusChange(human, "Done", "done"))
	f.Add(comment("comment_created", "1", human, `"*x*"`))
	f.Add(comment("comment_updated", "1", human, `{"type":"doc","version":1,"content":[]}`))
	f.Add([]byte(`{"comment":{"self":"https://j/rest/api/2/issue/1/comment/2","body":null}}`))
	for _, s := range webhookSeeds {
		f.Add(s.body)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := inbound.Parse(b)
		if err == nil && ev == nil {
			t.Fatal("nil event without an error")
		}
		if err != nil {
			return
		}
		// What Parse accepts is looked up and stored as it is, so it must
		// hold no text PostgreSQL refuses.
		enc, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		if path, err := alert.CheckJSON(enc); err != nil {
			t.Fatalf("accepted event holds bad text at %s: %v", path, err)
		}
	})
}
