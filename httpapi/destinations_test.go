package httpapi_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/alertbridge/alertbridge/internal/testdb"
)

type destinationJSON struct {
	Name           string     `json:"name"`
	Type           string     `json:"type"`
	ManualDispatch bool       `json:"manualDispatch"`
	LastSuccess    *time.Time `json:"lastSuccess"`
	LastErrorAt    *time.Time `json:"lastErrorAt"`
	LastError      string     `json:"lastError"`
}

func TestDestinationHealth(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, driver string) {
		t.Parallel()
		e := newEnv(t, driver, options{dests: []dest{
			{name: "flaky", manual: true, replies: []reply{{status: 500}}}, // then 200
			{name: "rejecting", replies: []reply{{status: 400}}},
			{name: "idle"},
		}})
		start := time.Now()
		a := pantherAlert("health-1", "HIGH")
		a["destinations"] = []string{"flaky"}
		e.ingest(t, a)
		b := pantherAlert("health-2", "HIGH")
		b["destinations"] = []string{"rejecting"}
		e.ingest(t, b)

		// A 5xx is retried; a 4xx will not get better and fails at once.
		got := e.waitDelivery(t, "health-1", "flaky", 1, "delivered")
		if d := got.Deliveries[0]; d.Attempts != 2 || d.LastError != "" {
			t.Errorf("flaky delivery %+v, want delivered on attempt 2", d)
		}
		got = e.waitDelivery(t, "health-2", "rejecting", 1, "failed")
		if d := got.Deliveries[0]; d.Attempts != 1 || !strings.Contains(d.LastError, "400") {
			t.Errorf("rejected delivery %+v, want failed after 1 attempt naming the 400", d)
		}
		if _, ok := findEvent(got.Timeline, "delivery_failed"); !ok {
			t.Errorf("timeline %+v, want a delivery_failed entry", got.Timeline)
		}
		if n := len(e.hooks["rejecting"].hits()); n != 1 {
			t.Errorf("rejecting receiver got %d posts, want 1", n)
		}

		var l struct {
			Destinations []destinationJSON `json:"destinations"`
		}
		byName := map[string]destinationJSON{}
		// Health is written a moment after the outcome (delivery's flush).
		eventually(t, "destination health to be written", func() bool {
			want(t, e.do(t, http.MethodGet, "/api/v1/destinations", ""), http.StatusOK, &l)
			clear(byName)
			for _, d := range l.Destinations {
				byName[d.Name] = d
			}
			return byName["flaky"].LastSuccess != nil && byName["flaky"].LastErrorAt != nil && byName["rejecting"].LastErrorAt != nil
		})
		if len(l.Destinations) != 3 || len(byName) != 3 {
			t.Fatalf("destinations %+v, want flaky, rejecting, idle", l.Destinations)
		}
		recent := func(at *time.Time) bool {
			return at != nil && !at.Before(start.Add(-time.Second)) && !at.After(time.Now().Add(time.Second))
		}
		// flaky's last error stays beside its later success: both are news.
		if d := byName["flaky"]; d.Type != "webhook" || !d.ManualDispatch || !recent(d.LastSuccess) ||
			!recent(d.LastErrorAt) || !strings.Contains(d.LastError, "500") {
			t.Errorf("flaky: %+v, want a recent success and the 500 as its last error", d)
		}
		if d := byName["rejecting"]; d.ManualDispatch || d.LastSuccess != nil || !recent(d.LastErrorAt) || !strings.Contains(d.LastError, "400") {
			t.Errorf("rejecting: %+v, want no success and the 400 as its last error", d)
		}
		if d := byName["idle"]; d.LastSuccess != nil || d.LastErrorAt != nil || d.LastError != "" {
			t.Errorf("idle: %+v, want no outcomes", d)
		}
	})
}

func TestSendTestAlert(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, driver string) {
		t.Parallel()
		e := newEnv(t, driver, options{})
		var got struct {
			AlertID     string `json:"alertId"`
			Destination string `json:"destination"`
		}
		want(t, e.do(t, http.MethodPost, "/api/v1/destinations/hook/test", ""), http.StatusAccepted, &got)
		if got.AlertID == "" || got.Destination != "hook" {
			t.Fatalf("answer %+v", got)
		}
		a := e.waitDelivery(t, got.AlertID, "hook", 1, "delivered")
		if a.Source != "test" || len(a.Deliveries) != 1 {
			t.Errorf("test alert %+v: want source test, delivered to hook only", a)
		}
		hits := e.hooks["hook"].hitsFor(t, got.AlertID)
		if len(hits) != 1 {
			t.Fatalf("receiver got the test alert %d times, want once", len(hits))
		}
		// The receiver checks the signature over the raw body as it came.
		mac := hmac.New(sha256.New, []byte(hookSecret))
		mac.Write(hits[0].body)
		if sig, want := hits[0].header.Get("X-Alertbridge-Signature"), "sha256="+hex.EncodeToString(mac.Sum(nil)); sig != want {
			t.Errorf("signature %q, want %q", sig, want)
		}
		var p map[string]any
		if err := json.Unmarshal(hits[0].body, &p); err != nil || p["severity"] != "INFO" || p["title"] == "" {
			t.Errorf("test alert payload %s", hits[0].body)
		}
		if n := len(e.hooks["locked"].hits()); n != 0 {
			t.Errorf("another destination got %d posts, want none", n)
		}
		// The test alert stays out of the alert list unless asked for.
		listed := func(query string) bool {
			var l struct {
				Alerts []struct {
					AlertID string `json:"alertId"`
				} `json:"alerts"`
			}
			want(t, e.do(t, http.MethodGet, "/api/v1/alerts"+query, ""), http.StatusOK, &l)
			for _, a := range l.Alerts {
				if a.AlertID == got.AlertID {
					return true
				}
			}
			return false
		}
		if listed("") || listed("?test=false") || !listed("?test=true") {
			t.Errorf("test alert listed by default %v, with test=false %v, with test=true %v; want false, false, true",
				listed(""), listed("?test=false"), listed("?test=true"))
		}
		wantError(t, e.do(t, http.MethodGet, "/api/v1/alerts?test=maybe", ""), http.StatusBadRequest, "invalid_field", "test")

		wantError(t, e.do(t, http.MethodPost, "/api/v1/destinations/nowhere/test", ""), http.StatusNotFound, "not_found", "")
	})
}

func TestReceiverRetryAfterIsHonoured(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, driver string) {
		t.Parallel()
		e := newEnv(t, driver, options{dests: []dest{
			{name: "busy", replies: []reply{{status: 429, retryAfter: "1"}}}, // then 200
		}})
		e.ingest(t, pantherAlert("busy-1", "LOW"))
		a := e.waitDelivery(t, "busy-1", "busy", 1, "delivered")
		if d := a.Deliveries[0]; d.Attempts != 2 || d.LastError != "" {
			t.Errorf("delivery %+v, want delivered on the second try", d)
		}
		hits := e.hooks["busy"].hits()
		if len(hits) != 2 {
			t.Fatalf("receiver got %d posts, want 2", len(hits))
		}
		// The wait is the receiver's second, not the 10ms retry backoff the
		// tests configure; the upper bound leaves room for a slow machine.
		if gap := hits[1].at.Sub(hits[0].at); gap < time.Second-50*time.Millisecond || gap > 8*time.Second {
			t.Errorf("second post %v after the first, want about 1s", gap)
		}
	})
}
