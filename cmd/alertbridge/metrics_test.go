package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/alertbridge/alertbridge/config"
	"github.com/alertbridge/alertbridge/internal/testdb"
	"github.com/alertbridge/alertbridge/jira"
	"github.com/alertbridge/alertbridge/jira/sandbox"
)

// The Jira clients of an observed environment count every request by
// site, kind and class, and each Retry-After window with its length.
func TestJiraMetrics(t *testing.T) {
	env := newJiraEnv(slog.New(slog.DiscardHandler))
	defer env.Close()
	reg := prometheus.NewRegistry()
	env.observe(reg)
	c, _, err := env.client("j", &config.Jira{URL: config.SandboxURL, Deployment: config.DeploymentCloud, Project: "SEC", Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	site := jira.SiteKey(env.sandbox.URL())
	// Every kind and class of the site is there before the first request.
	if n := testutil.CollectAndCount(reg, "alertbridge_jira_requests_total"); n != len(jira.RequestKinds())*len(jira.StatusClasses()) {
		t.Errorf("%d request series before any request", n)
	}
	ctx := context.Background()
	env.sandbox.Fail(sandbox.FaultSpec{Kind: sandbox.FaultServerError, Count: 1})
	_, _ = c.Myself(ctx)
	env.sandbox.Fail(sandbox.FaultSpec{Kind: sandbox.FaultRateLimit, Count: 1, RetryAfter: time.Second})
	_, _ = c.Myself(ctx)
	for range 2 {
		if _, err := c.Myself(ctx); err != nil { // the first waits out the window
			t.Fatal(err)
		}
	}
	if _, err := c.GetIssue(ctx, "SEC-404"); !jira.IsNotFound(err) {
		t.Fatalf("GetIssue: %v", err)
	}

	m := env.metrics
	for _, w := range []struct {
		kind, code string
		want       float64
	}{{"myself", "5xx", 1}, {"myself", "429", 1}, {"myself", "2xx", 2}, {"myself", "4xx", 0}, {"get", "4xx", 1}, {"create", "2xx", 0}} {
		if got := testutil.ToFloat64(m.requests.WithLabelValues(site, w.kind, w.code)); got != w.want {
			t.Errorf("requests{%s,%s} = %v, want %v", w.kind, w.code, got, w.want)
		}
	}
	if got := testutil.ToFloat64(m.windows.WithLabelValues(site)); got != 1 {
		t.Errorf("windows = %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.closed.WithLabelValues(site)); got < 0.9 || got > 1 {
		t.Errorf("closed for %vs, want about the 1s Retry-After", got)
	}
	if n := testutil.CollectAndCount(m.duration); n != 2 { // myself and get
		t.Errorf("%d duration series, want 2", n)
	}
}

// What serve registers, through the real binary: every family, with the
// label values of the configured destinations, site, rules and source at
// zero before anything happened, and an alert's deliveries and Jira
// requests counted after it.
func TestServeMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("drives the binary")
	}
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer hook.Close()
	admin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"data": [], "meta": {"next": null}, "links": {}}`)
	}))
	defer admin.Close()
	rules, err := filepath.Abs(filepath.Join("..", "..", "rules"))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("ATLASSIAN_API_KEY", "k")
	addr := freePort(t)
	cfg := writeConfig(t, fmt.Sprintf(`
server:
  listen: %s
  api_tokens: [{name: t, token_env: ALERTBRIDGE_API_TOKEN}]
storage: {url: %s}
destinations:
  - {name: hook, type: webhook, webhook: {url: %s}}
  - name: j
    type: jira
    jira:
      url: "sandbox:"
      deployment: cloud
      project: SEC
      sync: {status: one-way, status_map: {OPEN: "To Do", RESOLVED: "Done"}}
sources:
  - {name: org, type: atlassian_audit, org_id: 9a1jj823-jac8-123d-jj01-63315k059cb2, api_key_env: ATLASSIAN_API_KEY, base_url: %s, poll_interval: 1h}
detections:
  paths: [%s]
`, addr, testdb.URL(t, "sqlite"), hook.URL, admin.URL, rules))
	s := startServer(t, cfg, addr)

	m := scrape(t, s)
	site := ""
	for k := range m {
		if strings.HasPrefix(k, `alertbridge_jira_rate_limit_windows_total{site="`) {
			site = strings.TrimSuffix(strings.TrimPrefix(k, `alertbridge_jira_rate_limit_windows_total{site="`), `"}`)
		}
	}
	if !strings.HasPrefix(site, "http://127.0.0.1:") {
		t.Fatalf("no Jira site in the metrics (site %q)", site)
	}
	for _, k := range []string{
		`alertbridge_deliveries_total{destination="hook",outcome="failed"}`,
		`alertbridge_delivery_attempts_total{destination="j",outcome="snoozed"}`,
		`alertbridge_jira_requests_total{code="429",kind="create",site="` + site + `"}`,
		`alertbridge_jira_rate_limited_seconds_total{site="` + site + `"}`,
		`alertbridge_jira_reconciles_total{destination="j",outcome="failed"}`,
		`alertbridge_jira_sync_effects_total{destination="j",field="status"}`,
		`alertbridge_rule_errors_total{rule="Atlassian.Org.APITokenCreated"}`,
		`alertbridge_rule_matches_total{rule="Atlassian.Org.APITokenCreated"}`,
		`alertbridge_source_events_total{source="org"}`,
		`alertbridge_jobs{kind="deliver",state="retryable"}`,
		`alertbridge_jobs_oldest_age_seconds{kind="jira_reconcile"}`,
	} {
		if v, ok := m[k]; !ok || v != 0 {
			t.Errorf("%s = %v, %v; want 0 before anything happened", k, v, ok)
		}
	}

	if code, err := s.api("POST", "/api/v1/alerts", map[string]any{"alertId": "m-1", "title": "t", "severity": "HIGH"}, nil); err != nil || code != http.StatusAccepted {
		t.Fatalf("POST alert: %d %v", code, err)
	}
	waitFor(t, 30*time.Second, func() bool {
		m = scrape(t, s)
		return m[`alertbridge_deliveries_total{destination="hook",outcome="delivered"}`] == 1 &&
			m[`alertbridge_deliveries_total{destination="j",outcome="delivered"}`] == 1 &&
			m[`alertbridge_source_polls_total{outcome="ok",source="org"}`] == 1
	})
	if v := m[`alertbridge_jira_requests_total{code="2xx",kind="create",site="`+site+`"}`]; v != 1 {
		t.Errorf("Jira creates: %v, want 1", v)
	}
	if v := m[`alertbridge_delivery_attempts_total{destination="hook",outcome="delivered"}`]; v != 1 {
		t.Errorf("attempts to hook: %v, want 1", v)
	}
	if v := m[`alertbridge_source_last_success_timestamp_seconds{source="org"}`]; v < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Errorf("the source's last success is %v", v)
	}
}

// scrape reads /metrics into values by series, as the exposition writes
// them: name{labels, sorted} value.
func scrape(t *testing.T, s *server) map[string]float64 {
	t.Helper()
	resp, err := http.Get(s.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("/metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}
