package httpapi_test

import (
	"encoding/json"
	"maps"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/alertbridge/alertbridge/internal/testdb"
	"github.com/alertbridge/alertbridge/internal/upstream"
)

func TestPostAlertAcceptsOnceAndDeliversOnce(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, driver string) {
		t.Parallel()
		e := newEnv(t, driver, options{})
		a := pantherAlert("dup-1", "high")

		var first struct {
			AlertID   string `json:"alertId"`
			Duplicate *bool  `json:"duplicate"`
		}
		want(t, e.postJSON(t, "/api/v1/alerts", a), http.StatusAccepted, &first)
		if first.AlertID != "dup-1" || first.Duplicate == nil || *first.Duplicate {
			t.Fatalf("first post: %+v, want alertId dup-1 and duplicate false", first)
		}
		e.waitDelivery(t, "dup-1", "hook", 1, "delivered")

		// A sender retrying after a lost answer sends the alert again,
		// perhaps changed; it is the same alert and goes nowhere again.
		a["title"] = "changed on the second try"
		var second struct {
			AlertID   string `json:"alertId"`
			Duplicate bool   `json:"duplicate"`
		}
		want(t, e.postJSON(t, "/api/v1/alerts", a), http.StatusOK, &second)
		if second.AlertID != "dup-1" || !second.Duplicate {
			t.Fatalf("second post: %+v, want alertId dup-1 and duplicate true", second)
		}
		got := e.alert(t, "dup-1")
		if len(got.Deliveries) != 1 || got.Title != "alert dup-1" {
			t.Errorf("after the duplicate: %d deliveries, title %q; want 1 and the first title", len(got.Deliveries), got.Title)
		}

		// Senders that retry on a timeout race their own first request: the
		// copies may share one group commit or, on PostgreSQL, meet in
		// concurrent writers. Exactly one of them is the alert.
		body, _ := json.Marshal(pantherAlert("race-1", "HIGH"))
		const n = 8
		var (
			wg   sync.WaitGroup
			res  [n]response
			errs [n]error
		)
		for i := range n {
			wg.Go(func() { res[i], errs[i] = e.roundTrip(http.MethodPost, "/api/v1/alerts", string(body), nil) })
		}
		wg.Wait()
		accepted := 0
		for i, r := range res {
			if errs[i] != nil {
				t.Fatal(errs[i])
			}
			var got struct {
				Duplicate bool `json:"duplicate"`
			}
			switch r.status {
			case http.StatusAccepted:
				accepted++
				want(t, r, r.status, &got)
				if got.Duplicate {
					t.Errorf("202 answer says duplicate: %s", r)
				}
			case http.StatusOK:
				want(t, r, r.status, &got)
				if !got.Duplicate {
					t.Errorf("200 answer does not say duplicate: %s", r)
				}
			default:
				t.Errorf("answer %s, want 202 or 200", r)
			}
		}
		if accepted != 1 {
			t.Errorf("%d of %d copies accepted as new, want 1", accepted, n)
		}
		if got := e.alert(t, "race-1"); len(got.Deliveries) != 1 {
			t.Errorf("race-1 has %d deliveries, want 1", len(got.Deliveries))
		}

		// Deliveries run in the background: once a later alert has
		// reached the receiver, a second post of either would have too.
		e.ingest(t, pantherAlert("barrier", "high"))
		e.waitDelivery(t, "barrier", "hook", 1, "delivered")
		e.waitDelivery(t, "race-1", "hook", 1, "delivered")
		for _, id := range []string{"dup-1", "race-1"} {
			if n := len(e.hooks["hook"].hitsFor(t, id)); n != 1 {
				t.Errorf("receiver got %s %d times, want once", id, n)
			}
		}
	})
}

func TestPostAlertRejects(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, driver string) {
		t.Parallel()
		e := newEnv(t, driver, options{})
		with := func(change func(a map[string]any)) string {
			a := pantherAlert("bad-1", "HIGH")
			change(a)
			b, _ := json.Marshal(a)
			return string(b)
		}
		big := `{"alertId":"big","severity":"HIGH","title":"` + strings.Repeat("x", 1<<20) + `"}`
		tests := []struct {
			name   string
			body   string
			hdr    map[string]string
			status int
			code   string
			field  string
		}{
			{name: "misspelt severity", body: with(func(a map[string]any) { a["severity"] = "hgih" }),
				status: 400, code: "invalid_field", field: "severity"},
			{name: "no alertId", body: with(func(a map[string]any) { delete(a, "alertId") }),
				status: 400, code: "invalid_field", field: "alertId"},
			{name: "no title", body: with(func(a map[string]any) { delete(a, "title") }),
				status: 400, code: "invalid_field", field: "title"},
			{name: "unknown alert type", body: with(func(a map[string]any) { a["type"] = "RUMOUR" }),
				status: 400, code: "invalid_field", field: "type"},
			{name: "unknown field", body: with(func(a map[string]any) { a["colour"] = "red" }),
				status: 400, code: "invalid_field", field: "colour"},
			{name: "unknown destination", body: with(func(a map[string]any) { a["destinations"] = []string{"nowhere"} }),
				status: 400, code: "invalid_field", field: "destinations[0]"},
			{name: "unknown second destination", body: with(func(a map[string]any) { a["destinations"] = []string{"hook", "nowhere"} }),
				status: 400, code: "invalid_field", field: "destinations[1]"},
			{name: "malformed JSON", body: `{"alertId": "bad-1", "title": `,
				status: 400, code: "invalid_json"},
			{name: "not an object", body: `["bad-1"]`,
				status: 400, code: "invalid_json"},
			{name: "over 1 MiB", body: big,
				status: 413, code: "payload_too_large"},
			{name: "text/plain", body: with(func(map[string]any) {}), hdr: map[string]string{"Content-Type": "text/plain"},
				status: 415, code: "unsupported_media_type"},
			{name: "no content type", body: with(func(map[string]any) {}), hdr: map[string]string{"Content-Type": ""},
				status: 415, code: "unsupported_media_type"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := e.send(t, http.MethodPost, "/api/v1/alerts", tt.body, tt.hdr)
				wantError(t, r, tt.status, tt.code, tt.field)
			})
		}
		// None of them may have left an alert behind.
		wantError(t, e.do(t, http.MethodGet, "/api/v1/alerts/bad-1", ""), 404, "not_found", "")
		wantError(t, e.do(t, http.MethodGet, "/api/v1/alerts/big", ""), 404, "not_found", "")
	})
}

func TestAPIRefusesWithoutToken(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, driver string) {
		t.Parallel()
		e := newEnv(t, driver, options{})
		body, _ := json.Marshal(pantherAlert("unauth-1", "LOW"))
		auths := []struct{ name, header string }{
			{"no header", ""},
			{"wrong token", "Bearer not-" + opsToken},
			{"empty token", "Bearer "},
			{"other scheme", "Basic " + opsToken},
		}
		endpoints := []struct{ method, path, body string }{
			{http.MethodPost, "/api/v1/alerts", string(body)},
			{http.MethodGet, "/api/v1/alerts", ""},
			{http.MethodGet, "/api/v1/destinations", ""},
			{http.MethodPost, "/api/v1/destinations/hook/test", ""},
			{http.MethodGet, "/api/v1/no-such-endpoint", ""},
		}
		for _, auth := range auths {
			for _, ep := range endpoints {
				t.Run(auth.name+" "+ep.method+" "+ep.path, func(t *testing.T) {
					r := e.send(t, ep.method, ep.path, ep.body, map[string]string{"Authorization": auth.header})
					wantError(t, r, http.StatusUnauthorized, "unauthorized", "")
					if h := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(h, "Bearer") {
						t.Errorf("WWW-Authenticate %q, want a Bearer challenge", h)
					}
				})
			}
		}
		// Nothing was stored, test alerts included; and the second
		// configured token works as well as the first.
		var l struct {
			Alerts []alertJSON `json:"alerts"`
		}
		r := e.send(t, http.MethodGet, "/api/v1/alerts", "", map[string]string{"Authorization": "Bearer " + otherToken})
		want(t, r, http.StatusOK, &l)
		if len(l.Alerts) != 0 {
			t.Errorf("refused requests stored %d alerts", len(l.Alerts))
		}
	})
}

func TestIngestRateLimitIsPerToken(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, driver string) {
		t.Parallel()
		e := newEnv(t, driver, options{ingestRate: 1, ingestBurst: 2})
		post := func(token, id string) (response, error) {
			b, _ := json.Marshal(pantherAlert(id, "LOW"))
			return e.roundTrip(http.MethodPost, "/api/v1/alerts", string(b), map[string]string{"Authorization": "Bearer " + token})
		}
		// Three at once: the burst of two passes and the third does not.
		// Sent together, they reach the limiter well within the second the
		// bucket needs to refill, however slowly each is then committed.
		var (
			wg   sync.WaitGroup
			res  [3]response
			errs [3]error
		)
		for i := range res {
			wg.Go(func() { res[i], errs[i] = post(opsToken, "rate-"+strconv.Itoa(i)) })
		}
		wg.Wait()
		var limited []int
		for i, r := range res {
			if errs[i] != nil {
				t.Fatal(errs[i])
			}
			if r.status == http.StatusTooManyRequests {
				limited = append(limited, i)
				continue
			}
			want(t, r, http.StatusAccepted, nil)
		}
		if len(limited) != 1 {
			t.Fatalf("%d of 3 requests limited, want 1: %v", len(limited), res)
		}
		r := res[limited[0]]
		wantError(t, r, http.StatusTooManyRequests, "rate_limited", "")
		if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s < 1 || s > 2 {
			t.Errorf("Retry-After %q, want 1 or 2 seconds", r.header.Get("Retry-After"))
		}
		// The refused alert was not stored.
		wantError(t, e.do(t, http.MethodGet, "/api/v1/alerts/rate-"+strconv.Itoa(limited[0]), ""), http.StatusNotFound, "not_found", "")

		// Another token has a bucket of its own, and reading is not limited.
		r, err := post(otherToken, "rate-3")
		if err != nil {
			t.Fatal(err)
		}
		want(t, r, http.StatusAccepted, nil)
		want(t, e.do(t, http.MethodGet, "/api/v1/alerts", ""), http.StatusOK, nil)
	})
}

type amResult struct {
	AlertID   string `json:"alertId"`
	Duplicate bool   `json:"duplicate"`
	Resolved  bool   `json:"resolved"`
	Reopened  bool   `json:"reopened"`
}

// postAlertmanager posts a captured Alertmanager notification.
func (e *env) postAlertmanager(t *testing.T, file ...string) []amResult {
	t.Helper()
	body, err := os.ReadFile(upstream.Path(t, append([]string{"alert-payloads", "alertmanager"}, file...)...))
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Alerts []amResult `json:"alerts"`
	}
	want(t, e.do(t, http.MethodPost, "/api/v1/alerts/alertmanager", string(body)), http.StatusAccepted, &got)
	return got.Alerts
}

func TestAlertmanager(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, driver string) {
		t.Parallel()
		e := newEnv(t, driver, options{})
		tests := []struct {
			file []string
			want map[string]string // fingerprint → severity
		}{
			{[]string{"zulip", "alert.json"}, map[string]string{"a1bc48475b20e73d": "CRITICAL", "c2ea85182f28cbd9": "CRITICAL"}},
			{[]string{"card-grafana-inspired-payload.json"},
				map[string]string{"ff6a7a0f5f1c1309": "INFO", "554664fa753a2b45": "INFO", "911c76f0240f015b": "INFO"}},
			// No fingerprint in this one, and severity "warning": the identity
			// is Alertmanager's hash of the labels (pinned in package ingest).
			{[]string{"prom_post_request.json"}, map[string]string{"b29784719d6a11e6": "MEDIUM"}},
		}
		for _, tt := range tests {
			res := e.postAlertmanager(t, tt.file...)
			if len(res) != len(tt.want) {
				t.Fatalf("%v: %d results, want %d: %+v", tt.file, len(res), len(tt.want), res)
			}
			for _, r := range res {
				sev, ok := tt.want[r.AlertID]
				if !ok || r.Duplicate || r.Resolved || r.Reopened {
					t.Errorf("%v: result %+v, want a new alert under one of %v", tt.file, r, slices.Collect(maps.Keys(tt.want)))
					continue
				}
				a := e.alert(t, r.AlertID)
				if a.Severity != sev || a.Status != "OPEN" || a.Source != "alertmanager" {
					t.Errorf("%s: severity %s, status %s, source %s; want %s, OPEN, alertmanager", r.AlertID, a.Severity, a.Status, a.Source, sev)
				}
			}
		}
		// The zulip alerts are CRITICAL, so both destinations take them.
		e.waitDelivery(t, "a1bc48475b20e73d", "locked", 1, "delivered")

		// single_alert.json is the resolved notification for a1bc….
		res := e.postAlertmanager(t, "zulip", "single_alert.json")
		if len(res) != 1 || res[0].AlertID != "a1bc48475b20e73d" || !res[0].Resolved || res[0].Duplicate {
			t.Fatalf("resolved notification: %+v", res)
		}
		a := e.alert(t, "a1bc48475b20e73d")
		ev, ok := findEvent(a.Timeline, "status_changed")
		if a.Status != "RESOLVED" || !ok || ev.Actor != "alertmanager" || ev.Detail != "OPEN → RESOLVED" {
			t.Errorf("after resolved: status %s, timeline %+v; want RESOLVED by alertmanager", a.Status, a.Timeline)
		}
		if other := e.alert(t, "c2ea85182f28cbd9"); other.Status != "OPEN" {
			t.Errorf("the alert not in the resolved notification is %s, want OPEN", other.Status)
		}

		// Firing again reopens the resolved alert; the other was never closed.
		res = e.postAlertmanager(t, "zulip", "alert.json")
		byID := map[string]amResult{}
		for _, r := range res {
			byID[r.AlertID] = r
		}
		if r := byID["a1bc48475b20e73d"]; !r.Reopened {
			t.Errorf("firing again: %+v, want reopened", r)
		}
		if r := byID["c2ea85182f28cbd9"]; !r.Duplicate || r.Reopened {
			t.Errorf("still firing: %+v, want a duplicate, not reopened", r)
		}
		a = e.alert(t, "a1bc48475b20e73d")
		if _, ok := findEvent(a.Timeline, "reopened"); a.Status != "OPEN" || !ok {
			t.Errorf("after firing again: status %s, timeline %+v; want OPEN with a reopened entry", a.Status, a.Timeline)
		}

		bad := []struct {
			name, body, code, field string
		}{
			{"no version", `{"alerts":[{"status":"firing","labels":{"a":"b"}}]}`, "invalid_field", "version"},
			{"version 3", `{"version":"3","alerts":[{"status":"firing","labels":{"a":"b"}}]}`, "invalid_field", "version"},
			{"no alerts", `{"version":"4","alerts":[]}`, "invalid_field", "alerts"},
			{"bad status", `{"version":"4","alerts":[{"status":"burning","fingerprint":"f1"}]}`, "invalid_field", "alerts[0].status"},
			{"malformed", `{"version":"4",`, "invalid_json", ""},
		}
		for _, tt := range bad {
			t.Run(tt.name, func(t *testing.T) {
				wantError(t, e.do(t, http.MethodPost, "/api/v1/alerts/alertmanager", tt.body), http.StatusBadRequest, tt.code, tt.field)
			})
		}
		r := e.send(t, http.MethodPost, "/api/v1/alerts/alertmanager", `{"version":"4"}`, map[string]string{"Content-Type": "text/plain"})
		wantError(t, r, http.StatusUnsupportedMediaType, "unsupported_media_type", "")
	})
}
