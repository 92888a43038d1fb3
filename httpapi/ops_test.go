package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/alertbridge/alertbridge/internal/testdb"
)

func TestOperationalEndpoints(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, driver string) {
		t.Parallel()
		e := newEnv(t, driver, options{})
		// Probes and scrapers carry no token.
		noToken := map[string]string{"Authorization": ""}
		want(t, e.send(t, http.MethodGet, "/healthz", "", noToken), http.StatusOK, nil)
		want(t, e.send(t, http.MethodGet, "/readyz", "", noToken), http.StatusOK, nil)

		// Unknown paths under /api/ answer in the API's error shape.
		for _, path := range []string{"/api/v1/nothing", "/api/v2/alerts", "/api/v1/alerts/x/y/z", "/api/"} {
			wantError(t, e.do(t, http.MethodGet, path, ""), http.StatusNotFound, "not_found", "")
		}

		a := pantherAlert("metrics-1", "HIGH")
		e.ingest(t, a)
		want(t, e.postJSON(t, "/api/v1/alerts", a), http.StatusOK, nil)
		wantError(t, e.send(t, http.MethodPost, "/api/v1/alerts", "{}", map[string]string{"Content-Type": "text/plain"}),
			http.StatusUnsupportedMediaType, "unsupported_media_type", "")
		r := e.send(t, http.MethodGet, "/metrics", "", noToken)
		if r.status != http.StatusOK {
			t.Fatalf("/metrics: %s", r)
		}
		for _, line := range []string{
			`alertbridge_ingest_total{endpoint="alerts",result="accepted"} 1`,
			`alertbridge_ingest_total{endpoint="alerts",result="duplicate"} 1`,
			`alertbridge_ingest_total{endpoint="alerts",result="unsupported_media_type"} 1`,
			`alertbridge_queue_depth{state="pending"} `,
			`alertbridge_queue_depth{state="retrying"} `,
		} {
			if !hasLine(string(r.body), line) {
				t.Errorf("/metrics has no line starting %q:\n%s", line, r.body)
			}
		}

		// Stop the workers first, as shutdown does, then lose the database
		// under a server still answering: it is alive but no longer ready.
		e.stopQueue()
		if err := e.st.Close(); err != nil {
			t.Fatal(err)
		}
		want(t, e.send(t, http.MethodGet, "/readyz", "", noToken), http.StatusServiceUnavailable, nil)
		want(t, e.send(t, http.MethodGet, "/healthz", "", noToken), http.StatusOK, nil)
	})
}

func hasLine(text, prefix string) bool {
	for line := range strings.Lines(text) {
		if strings.HasPrefix(line, prefix) {
			return true
		}
	}
	return false
}
