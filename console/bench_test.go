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

// seed stores n alerts over 50 rules, the four statuses and five
// severities, every one delivered to hook and every other one to sec-jira
// with an issue there.
func seed(b *testing.B, st store.Store, n int) {
	ctx := context.Background()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	statuses := []alert.Status{alert.StatusOpen, alert.StatusOpen, alert.StatusOpen, alert.StatusOpen,
		alert.StatusTriaged, alert.StatusTriaged, alert.StatusTriaged, alert.StatusResolved, alert.StatusResolved, alert.StatusClosed}
	const batch = 2000
	for from := 0; from < n; from += batch {
		err := st.InTx(ctx, func(tx store.Tx) error {
			for i := from; i < min(from+batch, n); i++ {
				at := base.Add(time.Duration(i) * time.Second)
				id := fmt.Sprintf("bench-%06d", i)
				a := &alert.Alert{ID: fmt.Sprintf("Bench.Rule%02d", i%50), AlertID: id, CreatedAt: at,
					Severity: alert.Severities[i%len(alert.Severities)], Type: alert.TypeRule,
					Title: fmt.Sprintf("user%d@example.com did thing %d from 192.0.2.%d", i%977, i, i%250),
					Tags:  []string{"bench"}, Context: []byte(fmt.Sprintf(`{"ip":"192.0.2.%d","n":%d}`, i%250, i)),
					Source: alert.SourceAPI, Status: statuses[i%len(statuses)], UpdatedAt: at}
				if _, err := tx.InsertAlert(ctx, a); err != nil {
					return err
				}
				d := &store.Delivery{AlertID: id, Destination: "hook", Reason: store.ReasonRouted, State: store.DeliveryDelivered, Attempts: 1, CreatedAt: at, UpdatedAt: at}
				if err := tx.InsertDelivery(ctx, d); err != nil {
					return err
				}
				if i%2 == 0 {
					d := &store.Delivery{AlertID: id, Destination: "sec-jira", Reason: store.ReasonRouted, State: store.DeliveryDelivered, Attempts: 1, CreatedAt: at, UpdatedAt: at}
					if err := tx.InsertDelivery(ctx, d); err != nil {
						return err
					}
					if err := tx.UpsertIssue(ctx, id, alert.Issue{Destination: "sec-jira", Key: fmt.Sprintf("SEC-%d", i), URL: "https://jira.example/browse/SEC-" + strconv.Itoa(i), Status: "To Do"}); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
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
			if driver == "postgres" {
				analyze(b, h.st)
			}
			cookie := benchSession(b, h)
			cases := []struct{ name, path string }{
				{"none", "/"},
				{"status", "/?status=TRIAGED"},
				{"status+severity", "/?status=TRIAGED&severity=HIGH"},
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
			for _, idx := range []string{"alerts_rule_seq", "alerts_status_source", "deliveries_alert_destination"} {
				execSQL(b, h.st, "DROP INDEX "+idx)
			}
			for _, c := range cases[:5] {
				b.Run("without-0006-indexes/"+c.name, func(b *testing.B) { measure(b, h, cookie, c.path) })
			}
		})
	}
}

func analyze(b *testing.B, st store.Store) { execSQL(b, st, "ANALYZE") }

// execSQL runs a statement on the store's own pool, as an operator would.
func execSQL(b *testing.B, st store.Store, q string) {
	var err error
	switch db := st.Handle().(type) {
	case *sql.DB:
		_, err = db.Exec(q)
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
