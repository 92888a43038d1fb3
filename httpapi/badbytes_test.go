package httpapi_test

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/alertbridge/alertbridge/internal/testdb"
)

// apiOps are the endpoints the API fuzz drives; %s is the path value
// (an alertId or a log type), escaped so that any bytes reach the handler.
var apiOps = []struct{ method, path string }{
	{http.MethodPost, "/api/v1/alerts"},
	{http.MethodPost, "/api/v1/alerts/alertmanager"},
	{http.MethodGet, "/api/v1/alerts/%s"},
	{http.MethodPatch, "/api/v1/alerts/%s"},
	{http.MethodPost, "/api/v1/alerts/%s/comments"},
	{http.MethodPost, "/api/v1/alerts/%s/dispatch"},
	{http.MethodPost, "/api/v1/logs/%s"},
	{http.MethodGet, "/api/v1/alerts?%s"},
	{http.MethodPost, "/api/v1/destinations/%s/test"},
	{http.MethodPost, "/api/v1/alerts/grafana"},
}

// apiCall is one request of the fuzz: which of apiOps, the path value, the body.
type apiCall struct {
	op      uint8
	segment string
	body    string
}

const (
	opAlert uint8 = iota
	opAlertmanager
	opGet
	opPatch
	opComment
	opDispatch
	opLogs
	opList
	opTest
	opGrafana
)

// knownAlert exists on every fuzz server, so that calls addressing it get
// past the lookup to the writes.
const knownAlert = "known-1"

// badByteSeeds are the requests issue 8 measured answering 500 on
// PostgreSQL (and 2xx or 4xx on SQLite), with their neighbours: NUL in
// every kind of text an API request carries, and invalid UTF-8 where it
// can survive, which is in the path (encoding/json replaces it in strings).
var badByteSeeds = []apiCall{
	{opPatch, "a\x00b", `{"status":"TRIAGED"}`},
	{opGet, "\xc0\x80", ""},
	{opGet, "a\x00b", ""},
	{opPatch, "\xff", `{"status":"TRIAGED"}`},
	{opComment, "\xc0\x80", `{"body":"x"}`},
	{opDispatch, "a\x00", `{"destination":"hook"}`},
	{opComment, knownAlert, `{"body":"HIGH\u0000"}`},
	{opComment, knownAlert, `{"body":"x","author":"\u0000"}`},
	{opPatch, knownAlert, `{"assignee":"a\u0000b"}`},
	{opPatch, knownAlert, `{"status":"TRIAGED","actor":"\u0000"}`},
	{opDispatch, knownAlert, `{"destination":"hook","actor":"b\u0000"}`},
	{opDispatch, knownAlert, `{"destination":"ho\u0000ok"}`},
	{opAlert, "", `{"id":"Rule\u0000X","alertId":"nul-id","title":"t","severity":"HIGH"}`},
	{opAlert, "", `{"alertId":"nul\u0000","title":"t","severity":"HIGH"}`},
	{opAlert, "", `{"alertId":"nul-title","title":"t\u0000","severity":"HIGH"}`},
	{opAlert, "", `{"alertId":"nul-name","title":"t","name":"\u0000","description":"\u0000","runbook":"\u0000","version":"\u0000","severity":"HIGH"}`},
	{opAlert, "", `{"alertId":"nul-tags","title":"t","severity":"HIGH","tags":["a\u0000"],"logTypes":["\u0000"]}`},
	{opAlert, "", `{"alertId":"nul-ctx","title":"t","severity":"HIGH","alertContext":{"ip":"\u0000"}}`},
	{opAlert, "", `{"alertId":"nul-ctx-key","title":"t","severity":"HIGH","alertContext":{"a":[{"\u0000":1}]}}`},
	{opAlert, "", `{"alertId":"nul-sev","title":"t","severity":"HIGH\u0000"}`},
	{opAlertmanager, "", `{"version":"4","alerts":[{"status":"firing","labels":{"alertname":"\u0000"}}]}`},
	{opAlertmanager, "", `{"version":"4","alerts":[{"status":"firing","labels":{"\u0000":"x"}}]}`},
	{opAlertmanager, "", `{"version":"4","alerts":[{"status":"firing","fingerprint":"f1","annotations":{"summary":"s\u0000"}}]}`},
	{opAlertmanager, "", `{"version":"4","commonLabels":{"team":"\u0000"},"alerts":[{"status":"firing","fingerprint":"f2"}]}`},
	{opAlertmanager, "", `{"version":"4","receiver":"\u0000","alerts":[{"status":"firing","fingerprint":"f3"}]}`},
	{opLogs, "Test\x00Login", `{"user":"u","outcome":"fail"}`},
	{opLogs, "Test.Login\xff", `{"user":"u","outcome":"fail"}`},
	{opLogs, "Test.Login", `[{"user":"\u0000","outcome":"fail"},{"user":"\u0000","outcome":"fail"},{"user":"\u0000","outcome":"fail"}]`},
	{opLogs, "Test.Login", "{\"user\":\"v\",\"outcome\":\"fail\",\"\\u0000\":1}\n"},
	{opList, "status=OPEN%00", ""},
	{opList, "cursor=%C0%80", ""},
	{opList, "%00=1", ""},
	{opTest, "ho\x00ok", ""},
	{opTest, "\xff", ""},
	{opGrafana, "", `{"version":"1","title":"\u0000","alerts":[{"status":"firing","fingerprint":"g1"}]}`},
	{opGrafana, "", `{"version":"1","alerts":[{"status":"firing","fingerprint":"g2","dashboardURL":"https://g/\u0000"}]}`},
	{opGrafana, "", `{"version":"1","alerts":[{"status":"firing","fingerprint":"g3","values":{"\u0000":1}}]}`},
}

// validSeeds are well-formed requests of every kind, for the fuzzer and the
// sweep to break.
var validSeeds = []apiCall{
	{opAlert, "", `{"id":"Rule.X","alertId":"ok-1","title":"a title","severity":"HIGH","tags":["t"],"alertContext":{"ip":"10.0.0.1","user":{"name":"n"}}}`},
	{opAlertmanager, "", `{"version":"4","receiver":"r","groupKey":"{}:{}","commonLabels":{"severity":"warning"},` +
		`"alerts":[{"status":"firing","labels":{"alertname":"DiskFull","instance":"db1"},"annotations":{"summary":"disk full","description":"d"}}]}`},
	{opGet, knownAlert, ""},
	{opPatch, knownAlert, `{"status":"TRIAGED","assignee":"a@example.com","actor":"b@example.com"}`},
	{opComment, knownAlert, `{"body":"looked at it","author":"b@example.com"}`},
	{opDispatch, knownAlert, `{"destination":"hook","actor":"b@example.com"}`},
	{opLogs, "Test.Login", `[{"user":"mallory","outcome":"fail","ip":"192.0.2.1"},{"user":"mallory","outcome":"fail"},{"user":"mallory","outcome":"fail"}]`},
	{opList, "status=OPEN&severity=HIGH&limit=5", ""},
	{opTest, "hook", ""},
	{opGrafana, "", `{"version":"1","orgId":1,"title":"[FIRING:1] DiskFull","state":"alerting","message":"m","groupKey":"{}:{}",` +
		`"alerts":[{"status":"firing","fingerprint":"0123456789abcdef","labels":{"alertname":"DiskFull"},"values":{"A":97.5},` +
		`"dashboardURL":"https://grafana.example.com/d/x","valueString":"[ var='A' value=97.5 ]"}]}`},
}

// fuzzServers are the servers every fuzz request goes to: SQLite, and
// PostgreSQL when there is one (always under CI=true, where its absence
// fails), since the two must answer alike.
func fuzzServers(tb testing.TB) map[string]*env {
	drivers := []string{"sqlite"}
	if os.Getenv(testdb.PostgresEnv) != "" || os.Getenv("CI") == "true" {
		drivers = append(drivers, "postgres")
	} else {
		tb.Logf("%s is not set: fuzzing SQLite only", testdb.PostgresEnv)
	}
	out := map[string]*env{}
	for _, d := range drivers {
		e := newEnv(tb, d, options{rules: logRules(tb), ingestRate: 1e6, ingestBurst: 1e6})
		r, err := e.roundTrip(http.MethodPost, "/api/v1/alerts", `{"alertId":"`+knownAlert+`","title":"t","severity":"HIGH"}`, nil)
		if err != nil || r.status != http.StatusAccepted {
			tb.Fatalf("%s: seed alert: %v %v", d, r, err)
		}
		out[d] = e
	}
	return out
}

// verdict is how the servers answered one call.
type verdict struct {
	failed  []string // the servers that answered 5xx or not at all
	differ  bool     // SQLite and PostgreSQL answered with different statuses
	problem string   // both of those, for people; "" when all is well
}

// call sends c to every server.
func call(servers map[string]*env, c apiCall) verdict {
	op := apiOps[int(c.op)%len(apiOps)]
	path := op.path
	if strings.Contains(path, "?") {
		path = strings.Replace(path, "%s", escapeQuery(c.segment), 1)
	} else if strings.Contains(path, "%s") {
		path = fmt.Sprintf(path, url.PathEscape(c.segment))
	}
	body, hdr := c.body, map[string]string(nil)
	if op.method == http.MethodGet {
		body = ""
	} else if body == "" {
		hdr = map[string]string{"Content-Type": "application/json"}
	}
	var (
		v        verdict
		statuses = map[string]int{}
		problems []string
	)
	for _, d := range []string{"sqlite", "postgres"} {
		e, ok := servers[d]
		if !ok {
			continue
		}
		r, err := e.roundTrip(op.method, path, body, hdr)
		switch {
		case err != nil:
			v.failed = append(v.failed, d)
			problems = append(problems, fmt.Sprintf("%s: %v", d, err))
		case r.status >= 500:
			v.failed = append(v.failed, d)
			problems = append(problems, fmt.Sprintf("%s answered %s", d, r))
		}
		statuses[d] = r.status
	}
	if s, p := statuses["sqlite"], statuses["postgres"]; s != 0 && p != 0 && s != p {
		v.differ = true
		problems = append(problems, fmt.Sprintf("SQLite answered %d, PostgreSQL %d", s, p))
	}
	if len(problems) > 0 {
		v.problem = fmt.Sprintf("%s %q %q: %s", op.method, path, body, strings.Join(problems, "; "))
	}
	return v
}

// escapeQuery sends a raw query as given, except for the bytes a URL cannot
// carry unescaped, which the server then decodes back into the same bytes.
func escapeQuery(q string) string {
	var b strings.Builder
	for i := range len(q) {
		if c := q[i]; c <= ' ' || c >= 0x7f || c == '#' {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// FuzzAPI sends requests to the API on SQLite and PostgreSQL: none may
// answer 5xx, and the two databases must answer alike. Its seeds, which
// run as a normal test, are the measured bad-byte cases.
func FuzzAPI(f *testing.F) {
	for _, c := range slices.Concat(validSeeds, badByteSeeds) {
		f.Add(c.op, c.segment, c.body)
	}
	servers := fuzzServers(f)
	f.Fuzz(func(t *testing.T, op uint8, segment, body string) {
		if v := call(servers, apiCall{op, segment, body}); v.problem != "" {
			t.Error(v.problem)
		}
	})
}

// badBytes are what the sweep injects: NUL raw and escaped, an overlong
// encoding of NUL, a stray continuation byte, a lone surrogate escape, and
// a percent-escape, which must stay the text it is.
var badBytes = []string{`\u0000`, "\x00", "\xc0\x80", "\xff", `\ud800`, "%00"}

// mutate injects one of badBytes into c: in the path value, or in the body
// just after a quote, which lands inside a JSON string half the time.
func mutate(rng *rand.Rand, c apiCall) apiCall {
	// A fresh alertId per mutation keeps ingest from answering "duplicate"
	// to the second and later mutations of one seed.
	c.body = strings.Replace(c.body, `"alertId":"ok-1"`, fmt.Sprintf(`"alertId":"ok-%d"`, rng.Uint64()), 1)
	bad := badBytes[rng.IntN(len(badBytes))]
	var quotes []int
	for i := range len(c.body) {
		if c.body[i] == '"' {
			quotes = append(quotes, i+1)
		}
	}
	if len(quotes) == 0 || (strings.Contains(apiOps[c.op].path, "%s") && rng.IntN(3) == 0) {
		i := rng.IntN(len(c.segment) + 1)
		c.segment = c.segment[:i] + bad + c.segment[i:]
		return c
	}
	i := quotes[rng.IntN(len(quotes))]
	c.body = c.body[:i] + bad + c.body[i:]
	return c
}

// sweepRequests is how many mutated requests TestBadBytesSweep sends to
// each server; issue 8 measured 64 answers of 500 in 8,000.
const sweepRequests = 8000

// TestBadBytesSweep is a deterministic fuzz run: the valid seeds with bad
// bytes injected, a fixed number of times, counting the answers of 5xx
// and the requests the databases answered differently.
func TestBadBytesSweep(t *testing.T) {
	n := sweepRequests
	if testing.Short() {
		n = 500
	}
	servers := fuzzServers(t)
	rng := rand.New(rand.NewPCG(8, 10))
	var (
		problems []string
		failed   = map[string]int{}
		differ   int
	)
	for range n {
		c := validSeeds[rng.IntN(len(validSeeds))]
		v := call(servers, mutate(rng, c))
		for _, d := range v.failed {
			failed[d]++
		}
		if v.differ {
			differ++
		}
		if v.problem != "" {
			problems = append(problems, v.problem)
		}
	}
	t.Logf("%d mutated requests: answers of 5xx %v; %d answered differently by SQLite and PostgreSQL", n, failed, differ)
	for i, p := range problems {
		if i == 20 {
			t.Errorf("… and %d more", len(problems)-i)
			break
		}
		t.Error(p)
	}
}

// TestBadBytesAreBadInput pins the answer to each kind of bad text: 400
// invalid_field naming where it is, on both databases, with nothing stored.
func TestBadBytesAreBadInput(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, driver string) {
		t.Parallel()
		e := newEnv(t, driver, options{rules: logRules(t)})
		e.ingest(t, pantherAlert(knownAlert, "HIGH"))
		// After its delivery, so that the timeline is at rest.
		before := e.waitDelivery(t, knownAlert, "hook", 1, "delivered")
		ndjson := map[string]string{"Content-Type": "application/x-ndjson"}
		for _, tt := range []struct {
			name, method, path, body string
			hdr                      map[string]string
			field                    string
		}{
			{"alertId with NUL", "GET", "/api/v1/alerts/a%00b", "", nil, "alertId"},
			{"alertId overlong NUL", "GET", "/api/v1/alerts/%C0%80", "", nil, "alertId"},
			{"alertId not UTF-8", "GET", "/api/v1/alerts/caf%E9", "", nil, "alertId"},
			{"patch alertId with NUL", "PATCH", "/api/v1/alerts/a%00b", `{"status":"TRIAGED"}`, nil, "alertId"},
			{"comment alertId not UTF-8", "POST", "/api/v1/alerts/%FF/comments", `{"body":"x"}`, nil, "alertId"},
			{"dispatch alertId with NUL", "POST", "/api/v1/alerts/a%00/dispatch", `{"destination":"hook"}`, nil, "alertId"},
			{"comment body with NUL", "POST", "/api/v1/alerts/known-1/comments", `{"body":"HIGH\u0000"}`, nil, "body"},
			{"comment author with NUL", "POST", "/api/v1/alerts/known-1/comments", `{"body":"x","author":"\u0000"}`, nil, "author"},
			{"assignee with NUL", "PATCH", "/api/v1/alerts/known-1", `{"assignee":"a\u0000b"}`, nil, "assignee"},
			{"patch actor with NUL", "PATCH", "/api/v1/alerts/known-1", `{"status":"CLOSED","actor":"\u0000"}`, nil, "actor"},
			{"dispatch actor with NUL", "POST", "/api/v1/alerts/known-1/dispatch", `{"destination":"hook","actor":"b\u0000"}`, nil, "actor"},
			{"alert id with NUL", "POST", "/api/v1/alerts", `{"id":"Rule\u0000X","alertId":"bad-1","title":"t","severity":"HIGH"}`, nil, "id"},
			{"alert title with NUL", "POST", "/api/v1/alerts", `{"alertId":"bad-1","title":"t\u0000","severity":"HIGH"}`, nil, "title"},
			{"alert tag with NUL", "POST", "/api/v1/alerts", `{"alertId":"bad-1","title":"t","severity":"HIGH","tags":["ok","\u0000"]}`, nil, "tags[1]"},
			{"alertContext value with NUL", "POST", "/api/v1/alerts", `{"alertId":"bad-1","title":"t","severity":"HIGH","alertContext":{"ip":"\u0000"}}`, nil, "alertContext.ip"},
			{"Alertmanager label value with NUL", "POST", "/api/v1/alerts/alertmanager",
				`{"version":"4","alerts":[{"status":"firing","labels":{"alertname":"\u0000"}}]}`, nil, "alerts[0].labels.alertname"},
			{"Alertmanager label name with NUL", "POST", "/api/v1/alerts/alertmanager",
				`{"version":"4","alerts":[{"status":"firing","labels":{"\u0000":"x"}}]}`, nil, "alerts[0].labels"},
			{"Alertmanager common label with NUL", "POST", "/api/v1/alerts/alertmanager",
				`{"version":"4","commonLabels":{"team":"\u0000"},"alerts":[{"status":"firing","fingerprint":"f1"}]}`, nil, "commonLabels.team"},
			{"Grafana message with NUL", "POST", "/api/v1/alerts/grafana",
				`{"version":"1","message":"m\u0000","alerts":[{"status":"firing","fingerprint":"f1"}]}`, nil, "message"},
			{"Grafana panelURL with NUL", "POST", "/api/v1/alerts/grafana",
				`{"version":"1","alerts":[{"status":"firing","fingerprint":"f1"},{"status":"firing","fingerprint":"f2","panelURL":"\u0000"}]}`, nil, "alerts[1].panelURL"},
			{"logType with NUL", "POST", "/api/v1/logs/Test%00Login", `{"user":"u"}`, nil, "logType"},
			{"logType not UTF-8", "POST", "/api/v1/logs/Test.Login%FF", `{"user":"u"}`, nil, "logType"},
			{"event value with NUL", "POST", "/api/v1/logs/Test.Login",
				`[{"user":"ok","outcome":"fail"},{"user":"\u0000","outcome":"fail"}]`, nil, "events[1].user"},
			{"event key with NUL", "POST", "/api/v1/logs/Test.Login", "{\"user\":\"u\"}\n{\"a\":{\"\\u0000\":1}}\n", ndjson, "line 2.a"},
			{"event not UTF-8", "POST", "/api/v1/logs/Test.Login", "[{\"user\":\"caf\xe9\"}]", nil, "events[0]"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				wantError(t, e.send(t, tt.method, tt.path, tt.body, tt.hdr), http.StatusBadRequest, "invalid_field", tt.field)
			})
		}
		// A body that is not UTF-8 has no field to blame; encoding/json
		// would have stored U+FFFD for its bytes.
		for _, tt := range []struct{ name, method, path, body string }{
			{"alert", "POST", "/api/v1/alerts", "{\"alertId\":\"bad-1\",\"title\":\"caf\xe9\",\"severity\":\"HIGH\"}"},
			{"comment", "POST", "/api/v1/alerts/known-1/comments", "{\"body\":\"caf\xe9\"}"},
			{"patch", "PATCH", "/api/v1/alerts/known-1", "{\"assignee\":\"caf\xe9\"}"},
		} {
			t.Run(tt.name+" not UTF-8", func(t *testing.T) {
				wantError(t, e.send(t, tt.method, tt.path, tt.body, nil), http.StatusBadRequest, "invalid_json", "")
			})
		}
		wantError(t, e.do(t, http.MethodGet, "/api/v1/alerts/bad-1", ""), http.StatusNotFound, "not_found", "")
		after := e.alert(t, knownAlert)
		if after.Status != before.Status || len(after.Comments) != 0 || len(after.Timeline) != len(before.Timeline) {
			t.Errorf("refused requests changed %s: status %s, %d comments, timeline %+v",
				knownAlert, after.Status, len(after.Comments), after.Timeline)
		}
		var page listJSON
		want(t, e.do(t, http.MethodGet, "/api/v1/alerts", ""), http.StatusOK, &page)
		if len(page.Alerts) != 1 {
			t.Errorf("%d alerts stored, want only %s: %+v", len(page.Alerts), knownAlert, page.Alerts)
		}

		// Text that is only unusual is stored and read back as sent, alike
		// on both databases: the refusal is of NUL and bad bytes alone.
		odd := "é 🚨 \u2028 \uFFFD \x01 \\u0000"
		e.ingest(t, map[string]any{"alertId": "odd-1", "title": odd, "severity": "LOW", "alertContext": map[string]any{odd: odd}})
		want(t, e.postJSON(t, "/api/v1/alerts/odd-1/comments", map[string]any{"body": odd}), http.StatusCreated, nil)
		if a := e.alert(t, "odd-1"); a.Title != odd || len(a.Comments) != 1 || a.Comments[0].Body != odd {
			t.Errorf("odd text came back as title %q, comments %+v", a.Title, a.Comments)
		}
		want(t, e.do(t, http.MethodGet, "/api/v1/alerts/"+url.PathEscape("é🚨"), ""), http.StatusNotFound, nil)
	})
}
