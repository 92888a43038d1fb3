package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/alertbridge/alertbridge/alert"
	"github.com/alertbridge/alertbridge/delivery"
	"github.com/alertbridge/alertbridge/destination"
	"github.com/alertbridge/alertbridge/destination/webhook"
	"github.com/alertbridge/alertbridge/detection"
	"github.com/alertbridge/alertbridge/httpapi"
	"github.com/alertbridge/alertbridge/internal/testdb"
	"github.com/alertbridge/alertbridge/jobs"
	"github.com/alertbridge/alertbridge/lifecycle"
	"github.com/alertbridge/alertbridge/route"
	"github.com/alertbridge/alertbridge/ruleengine"
	"github.com/alertbridge/alertbridge/store"
)

// The API tokens every test server accepts, and the key every webhook
// destination signs with.
const (
	opsToken   = "ops-token-0123456789"
	otherToken = "other-token-9876543210"
	hookSecret = "hook-secret-s3cr3t"
)

// dest is one webhook destination of a test server and how its receiver answers.
type dest struct {
	name       string
	manual     bool
	severities []alert.Severity
	replies    []reply // the receiver's first answers, in order; 200 after them
}

// defaultDests is what most tests need: "hook" takes every alert and allows
// manual dispatch; "locked" takes CRITICAL alerts only and refuses it.
var defaultDests = []dest{
	{name: "hook", manual: true},
	{name: "locked", severities: []alert.Severity{alert.SeverityCritical}},
}

type options struct {
	dests       []dest // defaultDests when nil
	ingestRate  float64
	ingestBurst int
	rules       string // a rule directory to serve /api/v1/logs with
}

// env is one alertbridge server wired as cmd/alertbridge/serve.go wires it:
// a real store, a started delivery queue, the alert service and the API,
// with webhook destinations that post to receivers the test controls.
type env struct {
	url        string
	st         store.Store
	hooks      map[string]*receiver
	logs       *syncBuffer // the server's log
	stopQueue  func()      // stops the queue and the group committer, as shutdown does
	stopServer func()
}

func newEnv(t testing.TB, driver string, o options) *env {
	t.Helper()
	// The server's log (expected delivery failures included) is only worth
	// reading when a test fails.
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})

	// Registered first, so cleanup closes the store after everything using it.
	st := testdb.Open(t, driver)
	if o.dests == nil {
		o.dests = defaultDests
	}
	e := &env{st: st, hooks: map[string]*receiver{}, logs: logs}
	notifiers := map[string]destination.Notifier{}
	var dests []lifecycle.Destination
	for _, d := range o.dests {
		r := newReceiver(t, d.replies)
		e.hooks[d.name] = r
		notifiers[d.name] = webhook.New(webhook.Config{
			URL: r.srv.URL, Secret: hookSecret, Timeout: 5 * time.Second, PublicURL: "http://alertbridge.test",
		})
		dests = append(dests, lifecycle.Destination{
			Destination:    route.Destination{Name: d.name, Severities: d.severities},
			Type:           "webhook",
			ManualDispatch: d.manual,
		})
	}

	ctx := context.Background()
	reg := prometheus.NewRegistry()
	// Ingest and delivery outcomes share one group committer, as in serve.go.
	batch := lifecycle.DefaultBatcher(st)
	jl, err := jobs.New(ctx, jobs.Config{
		DB: st.Handle(), Queues: map[string]int{delivery.Queue: 50},
		JobTimeout: 35 * time.Second, // serve.go's rule: the 5s webhook timeout plus 30s
		// A retry comes at once, so a test waits on the retry itself and
		// not on the production schedule of seconds to minutes.
		Backoff: func(int) time.Duration { return 10 * time.Millisecond },
		Logger:  logger,
	})
	if err != nil {
		batch.Close()
		t.Fatal(err)
	}
	q := delivery.New(jl, st, delivery.Config{
		Batch:       batch,
		Notifiers:   notifiers,
		MaxAttempts: func(string) int { return 5 },
		Logger:      logger,
		Metrics:     delivery.NewMetrics(reg, st),
		HealthFlush: 10 * time.Millisecond,
	})
	svc := lifecycle.New(st, q, dests, lifecycle.Options{Batch: batch})
	var pipeline *detection.Pipeline
	if o.rules != "" {
		rs, err := ruleengine.LoadDir(o.rules)
		if err != nil {
			batch.Close()
			t.Fatal(err)
		}
		t.Cleanup(func() { rs.Close() })
		pipeline = detection.New(detection.Config{Rules: rs, Service: svc, Logger: logger})
	}
	api := httpapi.New(httpapi.Config{
		Service: svc, Store: st, Logger: logger, Registry: reg,
		Tokens:     append([]httpapi.Token{{Name: "ops", Value: opsToken}, {Name: "other", Value: otherToken}}, scopedTokens()...),
		IngestRate: o.ingestRate, IngestBurst: o.ingestBurst,
		Detections: pipeline,
	})
	srv := httptest.NewServer(checkedHandler(t, api))
	e.url = srv.URL
	q.Start(ctx)
	if err := jl.Start(ctx); err != nil {
		srv.Close()
		batch.Close()
		t.Fatal(err)
	}
	// serve.go's shutdown order: requests, then the running deliveries,
	// then the group committer they record their outcomes through.
	e.stopServer = sync.OnceFunc(srv.Close)
	e.stopQueue = sync.OnceFunc(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := jl.Stop(sctx); err != nil {
			t.Errorf("stop jobs: %v", err)
		}
		q.Close()
		batch.Close()
	})
	t.Cleanup(func() {
		e.stopServer()
		e.stopQueue()
	})
	return e
}

// reply is one answer of a receiver.
type reply struct {
	status     int
	retryAfter string
}

// hit is one request a receiver got.
type hit struct {
	at     time.Time
	header http.Header
	body   []byte
}

// receiver is a webhook endpoint that records what it gets and answers as scripted.
type receiver struct {
	srv     *httptest.Server
	mu      sync.Mutex
	replies []reply
	got     []hit
}

func newReceiver(t testing.TB, replies []reply) *receiver {
	r := &receiver{replies: slices.Clone(replies)}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.got = append(r.got, hit{at: time.Now(), header: req.Header.Clone(), body: body})
	rep := reply{status: http.StatusOK}
	if len(r.replies) > 0 {
		rep, r.replies = r.replies[0], r.replies[1:]
	}
	r.mu.Unlock()
	if rep.retryAfter != "" {
		w.Header().Set("Retry-After", rep.retryAfter)
	}
	w.WriteHeader(rep.status)
	fmt.Fprintf(w, "receiver says %d", rep.status)
}

func (r *receiver) hits() []hit {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// hitsFor are the requests that carried the alert alertID.
func (r *receiver) hitsFor(t *testing.T, alertID string) []hit {
	t.Helper()
	var out []hit
	for _, h := range r.hits() {
		var p struct {
			AlertID string `json:"alertId"`
		}
		if err := json.Unmarshal(h.body, &p); err != nil {
			t.Fatalf("receiver got a body that is not JSON: %v: %s", err, h.body)
		}
		if p.AlertID == alertID {
			out = append(out, h)
		}
	}
	return out
}

// response is an answer of the API, read in full.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) String() string { return fmt.Sprintf("%d %s", r.status, bytes.TrimSpace(r.body)) }

// do sends a request with the ops token, and a JSON content type when
// there is a body.
func (e *env) do(t *testing.T, method, path, body string) response {
	t.Helper()
	return e.send(t, method, path, body, nil)
}

// send is do with header changes: each entry of hdr replaces the default,
// and an empty value removes the header.
func (e *env) send(t *testing.T, method, path string, body string, hdr map[string]string) response {
	t.Helper()
	r, err := e.roundTrip(method, path, body, hdr)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// roundTrip is send for goroutines other than the test's, which must not
// end the test themselves.
func (e *env) roundTrip(method, path string, body string, hdr map[string]string) (response, error) {
	req, err := http.NewRequest(method, e.url+path, strings.NewReader(body))
	if err != nil {
		return response{}, err
	}
	req.Header.Set("Authorization", "Bearer "+opsToken)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return response{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return response{}, fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	return response{status: res.StatusCode, header: res.Header, body: b}, nil
}

// postJSON sends v as JSON.
func (e *env) postJSON(t *testing.T, path string, v any) response {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return e.do(t, http.MethodPost, path, string(b))
}

// want checks an answer's status and decodes its JSON body into v (when
// not nil), ending the test on a mismatch since what follows depends on it.
func want(t *testing.T, r response, status int, v any) {
	t.Helper()
	if r.status != status {
		t.Fatalf("answer %s, want status %d", r, status)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	if v != nil {
		if err := json.Unmarshal(r.body, v); err != nil {
			t.Fatalf("decode answer %s: %v", r, err)
		}
	}
}

// wantError checks an error answer: its status, and a body of exactly the
// contract's shape {"error": {"code", "message"[, "field"]}} with the code
// and field expected. An empty field means the answer must name none.
func wantError(t *testing.T, r response, status int, code, field string) {
	t.Helper()
	if r.status != status {
		t.Errorf("answer %s, want status %d", r, status)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("error answer's Content-Type %q, want application/json", ct)
	}
	var outer map[string]json.RawMessage
	if err := json.Unmarshal(r.body, &outer); err != nil || len(outer) != 1 || outer["error"] == nil {
		t.Errorf("error answer %s: want a body with exactly one key, \"error\"", r)
		return
	}
	var e map[string]any
	if err := json.Unmarshal(outer["error"], &e); err != nil {
		t.Errorf("error answer %s: \"error\" is not an object", r)
		return
	}
	for k := range e {
		if k != "code" && k != "message" && k != "field" {
			t.Errorf("error answer %s: unexpected key %q", r, k)
		}
	}
	if got, _ := e["code"].(string); got != code {
		t.Errorf("error answer %s: code %q, want %q", r, got, code)
	}
	if msg, _ := e["message"].(string); strings.TrimSpace(msg) == "" {
		t.Errorf("error answer %s: no message", r)
	}
	got, has := e["field"].(string)
	switch {
	case field == "" && has:
		t.Errorf("error answer %s: names field %q, want none", r, got)
	case field != "" && got != field:
		t.Errorf("error answer %s: field %q, want %q", r, got, field)
	}
}

// The API's JSON, as a client reads it.
type (
	alertJSON struct {
		AlertID    string         `json:"alertId"`
		Title      string         `json:"title"`
		Severity   string         `json:"severity"`
		Source     string         `json:"source"`
		Status     string         `json:"status"`
		Assignee   *string        `json:"assignee"`
		Comments   []commentJSON  `json:"comments"`
		Issues     []issueJSON    `json:"issues"`
		Deliveries []deliveryJSON `json:"deliveries"`
		Timeline   []eventJSON    `json:"timeline"`
	}
	commentJSON struct {
		ID      int64  `json:"id"`
		AlertID string `json:"alertId"`
		Author  string `json:"author"`
		Body    string `json:"body"`
	}
	issueJSON struct {
		Destination string `json:"destination"`
		Key         string `json:"key"`
		URL         string `json:"url"`
		Status      string `json:"status"`
	}
	deliveryJSON struct {
		ID          int64  `json:"id"`
		Destination string `json:"destination"`
		Reason      string `json:"reason"`
		State       string `json:"state"`
		Attempts    int    `json:"attempts"`
		LastError   string `json:"lastError"`
	}
	eventJSON struct {
		Actor  string `json:"actor"`
		Action string `json:"action"`
		Detail string `json:"detail"`
	}
)

// alert reads an alert through GET /api/v1/alerts/{alertId}, checking the
// contract's fields are there, lists as lists even when empty.
func (e *env) alert(t *testing.T, id string) alertJSON {
	t.Helper()
	r := e.do(t, http.MethodGet, "/api/v1/alerts/"+id, "")
	var a alertJSON
	want(t, r, http.StatusOK, &a)
	checkAlertShape(t, r.body)
	return a
}

// checkAlertShape checks that an alert answer has every key the contract
// names, and that its lists are arrays rather than null.
func checkAlertShape(t *testing.T, body []byte) {
	t.Helper()
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(body, &keys); err != nil {
		t.Fatalf("alert answer is not an object: %v", err)
	}
	for _, k := range []string{"alertId", "status", "assignee", "severity"} {
		if _, ok := keys[k]; !ok {
			t.Errorf("alert answer has no %q: %s", k, body)
		}
	}
	for _, k := range []string{"comments", "issues", "deliveries", "timeline"} {
		if v := bytes.TrimSpace(keys[k]); len(v) == 0 || v[0] != '[' {
			t.Errorf("alert answer's %q is %s, want an array", k, v)
		}
	}
}

// waitDelivery polls the alert until its delivery to dest (the nth, from
// 1, when the alert has several there) reaches state, and returns the alert.
func (e *env) waitDelivery(t *testing.T, id, dest string, n int, state string) alertJSON {
	t.Helper()
	var a alertJSON
	// One GET reads one snapshot (View), so the answer that shows the new
	// state also shows the timeline entry written in the same commit.
	eventually(t, fmt.Sprintf("delivery %d of %s to %s to be %s", n, id, dest, state), func() bool {
		a = e.alert(t, id)
		seen := 0
		for _, d := range a.Deliveries {
			if d.Destination != dest {
				continue
			}
			if seen++; seen == n {
				if d.State != state && (d.State == "delivered" || d.State == "failed") {
					t.Fatalf("delivery of %s to %s ended %s (%s), want %s", id, dest, d.State, d.LastError, state)
				}
				return d.State == state
			}
		}
		return false
	})
	return a
}

// eventually polls cond until it holds. Deliveries happen after the answer,
// so tests wait for their outcome, up to a deadline, instead of sleeping.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pantherAlert is a valid alert for POST /api/v1/alerts; tests add or
// change fields.
func pantherAlert(id, severity string) map[string]any {
	return map[string]any{
		"id": "Test.Rule", "alertId": id, "title": "alert " + id, "severity": severity,
		"alertContext": map[string]any{"ip": "10.0.0.1"},
	}
}

// ingest posts an alert that must be accepted.
func (e *env) ingest(t *testing.T, a map[string]any) {
	t.Helper()
	var got struct {
		AlertID   string `json:"alertId"`
		Duplicate bool   `json:"duplicate"`
	}
	want(t, e.postJSON(t, "/api/v1/alerts", a), http.StatusAccepted, &got)
	if got.AlertID != a["alertId"] || got.Duplicate {
		t.Fatalf("ingest %v: answer %+v", a["alertId"], got)
	}
}

// findEvent returns the first timeline entry with the action.
func findEvent(tl []eventJSON, action string) (eventJSON, bool) {
	i := slices.IndexFunc(tl, func(e eventJSON) bool { return e.Action == action })
	if i < 0 {
		return eventJSON{}, false
	}
	return tl[i], true
}

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
