package httpapi_test

import (
	"encoding/base64"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"testing"

	"github.com/alertbridge/alertbridge/internal/testdb"
)

type listJSON struct {
	Alerts []alertJSON `json:"alerts"`
	Next   *string     `json:"next"`
}

// list reads one page of GET /api/v1/alerts.
func (e *env) list(t *testing.T, query url.Values) listJSON {
	t.Helper()
	var l listJSON
	want(t, e.do(t, http.MethodGet, "/api/v1/alerts?"+query.Encode(), ""), http.StatusOK, &l)
	if l.Alerts == nil || l.Next == nil {
		t.Fatalf("list %s: answer lacks alerts or next", query.Encode())
	}
	return l
}

// walk reads every page of a listing and returns the alert IDs in order.
func (e *env) walk(t *testing.T, query url.Values) []string {
	t.Helper()
	var ids []string
	for pages := 0; ; pages++ {
		if pages > 20 {
			t.Fatalf("list %s: no end after %d pages", query.Encode(), pages)
		}
		l := e.list(t, query)
		if limit, _ := strconv.Atoi(query.Get("limit")); limit > 0 && len(l.Alerts) > limit {
			t.Errorf("list %s: %d alerts on a page, over the limit", query.Encode(), len(l.Alerts))
		}
		for _, a := range l.Alerts {
			ids = append(ids, a.AlertID)
		}
		if *l.Next == "" {
			return ids
		}
		// Set replaces the value's slice, so a shallow copy keeps the
		// caller's query as it was.
		query = maps.Clone(query)
		query.Set("cursor", *l.Next)
	}
}

func TestListAlerts(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, driver string) {
		t.Parallel()
		e := newEnv(t, driver, options{})
		sevs := []string{"HIGH", "LOW", "HIGH", "CRITICAL", "high", "LOW", "MEDIUM"}
		var ids []string
		for i, sev := range sevs {
			id := "list-" + strconv.Itoa(i)
			ids = append(ids, id)
			e.ingest(t, pantherAlert(id, sev))
		}
		for _, id := range []string{"list-1", "list-4"} {
			want(t, e.do(t, http.MethodPatch, "/api/v1/alerts/"+id, `{"status":"TRIAGED"}`), http.StatusOK, nil)
		}
		newestFirst := slices.Clone(ids)
		slices.Reverse(newestFirst)

		tests := []struct {
			name  string
			query url.Values
			want  []string
		}{
			{"all, one page", url.Values{}, newestFirst},
			{"all, pages of 3", url.Values{"limit": {"3"}}, newestFirst},
			{"all, pages of 1", url.Values{"limit": {"1"}}, newestFirst},
			{"pages exactly full", url.Values{"limit": {"7"}}, newestFirst},
			{"severity", url.Values{"severity": {"high"}}, []string{"list-4", "list-2", "list-0"}},
			{"severity, pages of 2", url.Values{"severity": {"HIGH"}, "limit": {"2"}}, []string{"list-4", "list-2", "list-0"}},
			{"status", url.Values{"status": {"triaged"}}, []string{"list-4", "list-1"}},
			{"status and severity", url.Values{"status": {"OPEN"}, "severity": {"High"}}, []string{"list-2", "list-0"}},
			{"nothing matches", url.Values{"status": {"CLOSED"}}, nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if got := e.walk(t, tt.query); !slices.Equal(got, tt.want) {
					t.Errorf("got %v, want %v", got, tt.want)
				}
			})
		}

		// A page's alerts are whole alerts, upper case as always, with an
		// assignee key whether or not anyone is assigned.
		page := e.list(t, url.Values{"limit": {"2"}})
		if len(page.Alerts) != 2 || *page.Next == "" {
			t.Fatalf("first page of 2: %d alerts, next %q", len(page.Alerts), *page.Next)
		}
		if a := page.Alerts[1]; a.AlertID != "list-5" || a.Severity != "LOW" || a.Status != "OPEN" || a.Title != "alert list-5" || a.Assignee == nil {
			t.Errorf("listed alert: %+v", a)
		}
		if a := e.list(t, url.Values{"status": {"TRIAGED"}}).Alerts[0]; a.Severity != "HIGH" || a.Status != "TRIAGED" || a.Assignee == nil {
			t.Errorf("listed triaged alert: %+v", a)
		}

		zero := base64.RawURLEncoding.EncodeToString([]byte("0"))
		bad := []struct{ query, field string }{
			{"status=bogus", "status"},
			{"severity=hgih", "severity"},
			{"limit=0", "limit"},
			{"limit=501", "limit"},
			{"limit=-1", "limit"},
			{"limit=ten", "limit"},
			{"cursor=%21%21%21", "cursor"},
			{"cursor=" + zero, "cursor"},
			{"sort=newest", "sort"},
		}
		for _, tt := range bad {
			t.Run(tt.query, func(t *testing.T) {
				wantError(t, e.do(t, http.MethodGet, "/api/v1/alerts?"+tt.query, ""), http.StatusBadRequest, "invalid_field", tt.field)
			})
		}
	})
}

func TestGetAlert(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, driver string) {
		t.Parallel()
		e := newEnv(t, driver, options{})
		e.ingest(t, pantherAlert("get-1", "high"))
		a := e.waitDelivery(t, "get-1", "hook", 1, "delivered")

		if a.AlertID != "get-1" || a.Status != "OPEN" || a.Severity != "HIGH" || a.Assignee == nil || *a.Assignee != "" {
			t.Errorf("alert: %+v, want get-1, OPEN, HIGH, no assignee", a)
		}
		if len(a.Comments) != 0 || len(a.Issues) != 0 {
			t.Errorf("comments %v, issues %v; want none", a.Comments, a.Issues)
		}
		// HIGH goes to "hook" only: "locked" takes CRITICAL.
		wantDeliveries := []deliveryJSON{{Destination: "hook", Reason: "routed", State: "delivered", Attempts: 1}}
		got := slices.Clone(a.Deliveries)
		for i := range got {
			got[i].ID = 0
		}
		if !slices.Equal(got, wantDeliveries) {
			t.Errorf("deliveries %+v, want %+v", a.Deliveries, wantDeliveries)
		}
		var actions []string
		for _, ev := range a.Timeline {
			actions = append(actions, ev.Action)
		}
		if !slices.Equal(actions, []string{"created", "routed", "delivered"}) {
			t.Errorf("timeline %+v, want created, routed, delivered", a.Timeline)
		}
		if ev, _ := findEvent(a.Timeline, "created"); ev.Actor != "token:ops" {
			t.Errorf("created by %q, want the token's name", ev.Actor)
		}
		if hits := e.hooks["hook"].hitsFor(t, "get-1"); len(hits) != 1 {
			t.Errorf("receiver got get-1 %d times, want once", len(hits))
		}

		wantError(t, e.do(t, http.MethodGet, "/api/v1/alerts/no-such-alert", ""), http.StatusNotFound, "not_found", "")
	})
}

func TestPatchAlert(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, driver string) {
		t.Parallel()
		e := newEnv(t, driver, options{})
		e.ingest(t, pantherAlert("patch-1", "MEDIUM"))
		// The delivery adds to the timeline too; once it is done the
		// timeline's last entries are the patches'.
		e.waitDelivery(t, "patch-1", "hook", 1, "delivered")
		patch := func(body string) alertJSON {
			t.Helper()
			r := e.do(t, http.MethodPatch, "/api/v1/alerts/patch-1", body)
			var a alertJSON
			want(t, r, http.StatusOK, &a)
			checkAlertShape(t, r.body)
			return a
		}

		a := patch(`{"status": "triaged", "assignee": "a@example.com", "actor": "b@example.com"}`)
		if a.Status != "TRIAGED" || a.Assignee == nil || *a.Assignee != "a@example.com" {
			t.Errorf("after patch: status %s, assignee %v", a.Status, a.Assignee)
		}
		wantEvents := []eventJSON{
			{Actor: "b@example.com via token:ops", Action: "status_changed", Detail: "OPEN → TRIAGED"},
			{Actor: "b@example.com via token:ops", Action: "assignee_changed", Detail: "(none) → a@example.com"},
		}
		if tl := e.alert(t, "patch-1").Timeline; !slices.Equal(lastN(tl, 2), wantEvents) {
			t.Errorf("timeline ends %+v, want %+v", lastN(tl, 2), wantEvents)
		}

		// Without an actor the change is the token's; only what changed is
		// recorded.
		a = patch(`{"status": "Resolved", "assignee": "a@example.com"}`)
		if a.Status != "RESOLVED" {
			t.Errorf("status %s, want RESOLVED", a.Status)
		}
		got := e.alert(t, "patch-1")
		wantLast := eventJSON{Actor: "token:ops", Action: "status_changed", Detail: "TRIAGED → RESOLVED"}
		if len(got.Timeline) != len(a.Timeline) || got.Timeline[len(got.Timeline)-1] != wantLast {
			t.Errorf("timeline %+v, want it to end with %+v", got.Timeline, wantLast)
		}
		if got.Status != "RESOLVED" || *got.Assignee != "a@example.com" {
			t.Errorf("stored: status %s, assignee %s", got.Status, *got.Assignee)
		}
		a = patch(`{"assignee": ""}`)
		if *a.Assignee != "" || a.Timeline[len(a.Timeline)-1].Detail != "a@example.com → (none)" {
			t.Errorf("unassigning: assignee %q, timeline %+v", *a.Assignee, a.Timeline)
		}

		tests := []struct {
			name, path, body string
			status           int
			code, field      string
		}{
			{"bad status", "patch-1", `{"status": "DONE"}`, 400, "invalid_field", "status"},
			{"unknown field", "patch-1", `{"state": "OPEN"}`, 400, "invalid_field", "state"},
			{"wrong type", "patch-1", `{"status": 3}`, 400, "invalid_field", "status"},
			{"nothing to change", "patch-1", `{}`, 400, "invalid_field", ""},
			{"only an actor", "patch-1", `{"actor": "b@example.com"}`, 400, "invalid_field", ""},
			{"malformed", "patch-1", `{"status":`, 400, "invalid_json", ""},
			{"unknown alert", "no-such-alert", `{"status": "OPEN"}`, 404, "not_found", ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				wantError(t, e.do(t, http.MethodPatch, "/api/v1/alerts/"+tt.path, tt.body), tt.status, tt.code, tt.field)
			})
		}
		if got := e.alert(t, "patch-1"); got.Status != "RESOLVED" {
			t.Errorf("a refused patch changed the status to %s", got.Status)
		}
	})
}

func lastN[T any](s []T, n int) []T { return s[max(len(s)-n, 0):] }

func TestPostComment(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, driver string) {
		t.Parallel()
		e := newEnv(t, driver, options{})
		e.ingest(t, pantherAlert("comment-1", "LOW"))

		var c commentJSON
		r := e.do(t, http.MethodPost, "/api/v1/alerts/comment-1/comments", `{"body": "Seen **twice** today.", "author": "b@example.com"}`)
		want(t, r, http.StatusCreated, &c)
		if c.ID == 0 || c.AlertID != "comment-1" || c.Author != "b@example.com via token:ops" || c.Body != "Seen **twice** today." {
			t.Errorf("comment: %+v", c)
		}
		// Without an author the comment is the token's.
		want(t, e.do(t, http.MethodPost, "/api/v1/alerts/comment-1/comments", `{"body": "second"}`), http.StatusCreated, nil)

		a := e.alert(t, "comment-1")
		if len(a.Comments) != 2 || a.Comments[0] != c || a.Comments[1].Author != "token:ops" || a.Comments[1].Body != "second" {
			t.Errorf("comments %+v, want %+v and the token's", a.Comments, c)
		}
		if ev, ok := findEvent(a.Timeline, "commented"); !ok || ev.Actor != "b@example.com via token:ops" {
			t.Errorf("timeline %+v, want a commented entry by b@example.com", a.Timeline)
		}

		tests := []struct {
			name, path, body string
			status           int
			code, field      string
		}{
			{"no body", "comment-1", `{"author": "b@example.com"}`, 400, "invalid_field", "body"},
			{"blank body", "comment-1", `{"body": "  \n"}`, 400, "invalid_field", "body"},
			{"unknown field", "comment-1", `{"body": "x", "text": "x"}`, 400, "invalid_field", "text"},
			{"unknown alert", "no-such-alert", `{"body": "x"}`, 404, "not_found", ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				wantError(t, e.do(t, http.MethodPost, "/api/v1/alerts/"+tt.path+"/comments", tt.body), tt.status, tt.code, tt.field)
			})
		}
		if n := len(e.alert(t, "comment-1").Comments); n != 2 {
			t.Errorf("%d comments after the refused ones, want 2", n)
		}
	})
}

func TestDispatch(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, driver string) {
		t.Parallel()
		e := newEnv(t, driver, options{})
		e.ingest(t, pantherAlert("dispatch-1", "HIGH"))
		e.waitDelivery(t, "dispatch-1", "hook", 1, "delivered")

		var d struct {
			AlertID     string `json:"alertId"`
			Destination string `json:"destination"`
			DeliveryID  int64  `json:"deliveryId"`
		}
		r := e.do(t, http.MethodPost, "/api/v1/alerts/dispatch-1/dispatch", `{"destination": "hook", "actor": "b@example.com"}`)
		want(t, r, http.StatusAccepted, &d)
		if d.AlertID != "dispatch-1" || d.Destination != "hook" || d.DeliveryID == 0 {
			t.Errorf("dispatch answer %+v", d)
		}
		a := e.waitDelivery(t, "dispatch-1", "hook", 2, "delivered")
		if n := len(a.Deliveries); n != 2 || a.Deliveries[1].ID != d.DeliveryID || a.Deliveries[1].Reason != "manual" {
			t.Errorf("deliveries %+v, want the routed one and manual %d", a.Deliveries, d.DeliveryID)
		}
		if ev, ok := findEvent(a.Timeline, "dispatched"); !ok || ev.Actor != "b@example.com via token:ops" || ev.Detail != "hook" {
			t.Errorf("timeline %+v, want a dispatched entry by b@example.com", a.Timeline)
		}
		hits := e.hooks["hook"].hitsFor(t, "dispatch-1")
		if len(hits) != 2 {
			t.Fatalf("receiver got dispatch-1 %d times, want twice", len(hits))
		}
		if got := hits[1].header.Get("X-Alertbridge-Delivery"); got != strconv.FormatInt(d.DeliveryID, 10) {
			t.Errorf("second post is delivery %q, want %d", got, d.DeliveryID)
		}

		tests := []struct {
			name, path, body string
			status           int
			code, field      string
		}{
			{"manual dispatch off", "dispatch-1", `{"destination": "locked"}`, 403, "forbidden", "destination"},
			{"unknown destination", "dispatch-1", `{"destination": "nowhere"}`, 400, "invalid_field", "destination"},
			{"no destination", "dispatch-1", `{}`, 400, "invalid_field", "destination"},
			{"unknown alert", "no-such-alert", `{"destination": "hook"}`, 404, "not_found", ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				wantError(t, e.do(t, http.MethodPost, "/api/v1/alerts/"+tt.path+"/dispatch", tt.body), tt.status, tt.code, tt.field)
			})
		}
		if n := len(e.alert(t, "dispatch-1").Deliveries); n != 2 {
			t.Errorf("%d deliveries after the refused dispatches, want 2", n)
		}
	})
}
