package console_test

import (
	"context"
	"database/sql"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/alertbridge/alertbridge/alert"
	"github.com/alertbridge/alertbridge/store"
)

// benchAlerts is how many alerts the list benchmark stores
// ($ALERTBRIDGE_BENCH_ALERTS, default 100,000).
func benchAlerts() int {
	if n, err := strconv.Atoi(os.Getenv("ALERTBRIDGE_BENCH_ALERTS")); err == nil && n > 0 {
		return n
	}
	return 100_000
}

// seed stores n alerts over 50 rules, the four statuses (4:3:2:1) and
// five severities, every one delivered to hook and every other one to
// sec-jira with an issue there. The rows are made by one INSERT … SELECT
// per table, in the shape the store writes them (the alert page and list
// read them back through the store), so that 100,000 take seconds.
func seed(b *testing.B, st store.Store, n int) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	sev := `CASE i % 5 WHEN 0 THEN 'INFO' WHEN 1 THEN 'LOW' WHEN 2 THEN 'MEDIUM' WHEN 3 THEN 'HIGH' ELSE 'CRITICAL' END`
	status := `CASE WHEN i % 10 < 4 THEN 'OPEN' WHEN i % 10 < 7 THEN 'TRIAGED' WHEN i % 10 < 9 THEN 'RESOLVED' ELSE 'CLOSED' END`
	var series, id, rule, title, stamp, body string
	if st.Driver() == "postgres" {
		series = fmt.Sprintf(`(SELECT generate_series(0, %d) AS i) n`, n-1)
		id, rule = `'bench-' || lpad(i::text, 6, '0')`, `'Bench.Rule' || lpad((i % 50)::text, 2, '0')`
		title = `'user' || (i % 977) || '@example.com did thing ' || i || ' from 192.0.2.' || (i % 250)`
		stamp = fmt.Sprintf(`to_char(to_timestamp(%d + i) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')`, base)
		body = `json_build_object('id', %[1]s, 'alertId', %[2]s, 'createdAt', %[3]s, 'severity', %[4]s, 'type', 'RULE', 'title', %[5]s,
			'tags', json_build_array('bench'), 'alertContext', json_build_object('ip', '192.0.2.' || (i %% 250), 'n', i),
			'source', 'api', 'status', %[6]s, 'updatedAt', %[3]s)::text`
	} else {
		series = fmt.Sprintf(`(WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < %d) SELECT i FROM s) n`, n-1)
		id, rule = `printf('bench-%06d', i)`, `printf('Bench.Rule%02d', i % 50)`
		title = `'user' || (i % 977) || '@example.com did thing ' || i || ' from 192.0.2.' || (i % 250)`
		stamp = fmt.Sprintf(`strftime('%%Y-%%m-%%dT%%H:%%M:%%SZ', %d + i, 'unixepoch')`, base)
		body = `json_object('id', %[1]s, 'alertId', %[2]s, 'createdAt', %[3]s, 'severity', %[4]s, 'type', 'RULE', 'title', %[5]s,
			'tags', json_array('bench'), 'alertContext', json_object('ip', '192.0.2.' || (i %% 250), 'n', i),
			'source', 'api', 'status', %[6]s, 'updatedAt', %[3]s)`
	}
	micros := fmt.Sprintf(`(%d + i::bigint) * 1000000`, base)
	if st.Driver() != "postgres" {
		micros = fmt.Sprintf(`(%d + i) * 1000000`, base)
	}
	execSQL(b, st, fmt.Sprintf(`INSERT INTO alerts (alert_id, rule_id, severity, type, status, assignee, source, created_at, updated_at, body)
		SELECT %s, %s, %s, 'RULE', %s, '', 'api', %s, %s, %s FROM %s`,
		id, rule, sev, status, micros, micros, fmt.Sprintf(body, rule, id, stamp, sev, title, status), series))
	execSQL(b, st, fmt.Sprintf(`INSERT INTO deliveries (alert_id, destination, reason, state, attempts, last_error, created_at, updated_at)
		SELECT %s, 'hook', 'routed', 'delivered', 1, '', %s, %s FROM %s`, id, micros, micros, series))
	execSQL(b, st, fmt.Sprintf(`INSERT INTO deliveries (alert_id, destination, reason, state, attempts, last_error, created_at, updated_at)
		SELECT %s, 'sec-jira', 'routed', 'delivered', 1, '', %s, %s FROM %s WHERE i %% 2 = 0`, id, micros, micros, series))
	execSQL(b, st, fmt.Sprintf(`INSERT INTO issues (alert_id, destination, key, external_id, url, status, created_at)
		SELECT %s, 'sec-jira', 'SEC-' || i, '', 'https://jira.example/browse/SEC-' || i, 'To Do', %s FROM %s WHERE i %% 2 = 0`, id, micros, series))
	execSQL(b, st, "ANALYZE")
	// The store reads the rows back: a row the store cannot decode fails here.
	var as []*alert.Alert
	err := st.View(context.Background(), func(tx store.Tx) (err error) {
		as, _, err = tx.ListAlerts(context.Background(), store.ListQuery{Limit: 1})
		return err
	})
	if err != nil || len(as) != 1 || as[0].AlertID != fmt.Sprintf("bench-%06d", n-1) || as[0].CreatedAt.Unix() != base+int64(n-1) {
		b.Fatalf("seeded alerts read back as %+v, %v", as, err)
	}
}

// measure serves path b.N times and reports the median and 99th
// percentile of the time to the whole answer.
func measure(b *testing.B, h *harness, cookie *http.Cookie, path string) {
	req := httptest.NewRequest("GET", path, nil)
	req.AddCookie(cookie)
	handler := h.srv.Config.Handler
	took := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for b.Loop() {
		w := httptest.NewRecorder()
		start := time.Now()
		handler.ServeHTTP(w, req)
		took = append(took, time.Since(start))
		if w.Code != http.StatusOK {
			b.Fatalf("%s: %d %s", path, w.Code, w.Body.String())
		}
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(took[min(len(took)-1, len(took)*99/100)].Microseconds())/1000, "p99-ms")
}

func benchSession(b *testing.B, h *harness) *http.Cookie {
	c := h.client(b)
	h.signIn(b, c)
	for _, ck := range c.Jar.Cookies(mustURL(h.srv.URL)) {
		return &http.Cookie{Name: ck.Name, Value: ck.Value}
	}
	b.Fatal("no session cookie")
	return nil
}

// BenchmarkListPage renders the alert list over benchAlerts() alerts,
// unfiltered and with each filter, on SQLite and PostgreSQL; then again
// without the indexes migration 0006 adds, to show what they are for.
func BenchmarkListPage(b *testing.B) {
	for _, driver := range []string{"sqlite", "postgres"} {
		b.Run(driver, func(b *testing.B) {
			if driver == "postgres" && os.Getenv("ALERTBRIDGE_TEST_POSTGRES_URL") == "" {
				b.Skip("ALERTBRIDGE_TEST_POSTGRES_URL is not set")
			}
			h := newHarness(b, driver, harnessOptions{})
			seed(b, h.st, benchAlerts())
			cookie := benchSession(b, h)
			cases := []struct{ name, path string }{
				{"none", "/"},
				{"status", "/?status=TRIAGED"},
				{"status+severity", "/?status=TRIAGED&severity=CRITICAL"},
				// No alert is both: the list and counts look through all.
				{"status+severity-none-match", "/?status=TRIAGED&severity=HIGH"},
				{"destination", "/?destination=sec-jira"},
				{"rule", "/?rule=Bench.Rule07"},
				{"text", "/?q=user5%40example.com"},
				{"page2", ""},
			}
			for _, c := range cases {
				path := c.path
				if c.name == "page2" {
					path = nextPage(b, h, cookie)
				}
				b.Run(c.name, func(b *testing.B) { measure(b, h, cookie, path) })
			}
			for _, idx := range []string{"alerts_rule_seq", "alerts_status_severity_source", "deliveries_alert_destination"} {
				execSQL(b, h.st, "DROP INDEX "+idx)
			}
			for _, c := range cases[:6] {
				b.Run("without-0006-indexes/"+c.name, func(b *testing.B) { measure(b, h, cookie, c.path) })
			}
		})
	}
}

// execSQL runs a statement on the store's own pool, as an operator would.
func execSQL(b *testing.B, st store.Store, q string) {
	var err error
	switch db := st.Handle().(type) {
	case *sql.DB:
		// The read pool is query_only; the writer is the store's first pool.
		err = st.InTx(context.Background(), func(tx store.Tx) error {
			_, err := tx.Raw().(*sql.Tx).Exec(q)
			return err
		})
	case *pgxpool.Pool:
		_, err = db.Exec(context.Background(), q)
	}
	if err != nil {
		b.Fatalf("%s: %v", q, err)
	}
}

// nextPage is the list's "Older" link.
func nextPage(b *testing.B, h *harness, cookie *http.Cookie) string {
	req := httptest.NewRequest("GET", "/", nil)
	req.AddCookie(cookie)
	w := httptest.NewRecorder()
	h.srv.Config.Handler.ServeHTTP(w, req)
	m := regexp.MustCompile(`rel="next" href="([^"]+)"`).FindStringSubmatch(w.Body.String())
	if m == nil {
		b.Fatal("no next page")
	}
	return html.UnescapeString(m[1])
}

// BenchmarkAlertPage renders the page of an alert with 1,000 timeline
// entries and 100 comments.
func BenchmarkAlertPage(b *testing.B) {
	for _, driver := range []string{"sqlite", "postgres"} {
		b.Run(driver, func(b *testing.B) {
			if driver == "postgres" && os.Getenv("ALERTBRIDGE_TEST_POSTGRES_URL") == "" {
				b.Skip("ALERTBRIDGE_TEST_POSTGRES_URL is not set")
			}
			h := newHarness(b, driver, harnessOptions{})
			h.post(b, "big-1", "an alert with a long history")
			ctx := context.Background()
			err := h.st.InTx(ctx, func(tx store.Tx) error {
				at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
				for i := range 1000 - 2 {
					if err := tx.AddEvent(ctx, "big-1", alert.Event{At: at.Add(time.Duration(i) * time.Second), Actor: "sync:sec-jira",
						Action: "jira_synced", Detail: fmt.Sprintf("SEC-1: comment %d posted as Jira comment %d", i, 10000+i)}); err != nil {
						return err
					}
				}
				for i := range 100 {
					if err := tx.AddComment(ctx, &alert.Comment{AlertID: "big-1", Author: "ann@example.com", Origin: "alertbridge",
						Body: fmt.Sprintf("Comment **%d** with `code` and a [link](https://example.com/%d).", i, i), CreatedAt: at, UpdatedAt: at}); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
			rec, _ := h.svc.Get(ctx, "big-1")
			if len(rec.Timeline) != 1000 {
				b.Fatalf("timeline has %d entries", len(rec.Timeline))
			}
			measure(b, h, benchSession(b, h), "/alerts/big-1")
		})
	}
}
