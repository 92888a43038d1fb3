package atlassian_test

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/riverqueue/river"

	"github.com/alertbridge/alertbridge/detection"
	"github.com/alertbridge/alertbridge/internal/testdb"
	"github.com/alertbridge/alertbridge/jobs"
	"github.com/alertbridge/alertbridge/ruleengine"
	"github.com/alertbridge/alertbridge/source/atlassian"
	"github.com/alertbridge/alertbridge/store"
)

// Polls run as jobs count by outcome, with the new events they applied
// (those of a poll that failed part-way too) and the time of the last
// success; the rules count each new event once, however often the source
// reads it.
func TestSourceMetrics(t *testing.T) {
	testdb.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		e := newEnv(t, driver)
		_, file, _, _ := runtime.Caller(0)
		rs, err := ruleengine.LoadDir(filepath.Join(filepath.Dir(file), "..", "..", "rules"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { rs.Close() })
		reg := prometheus.NewRegistry()
		e.pipeline = detection.New(detection.Config{Rules: rs, Service: e.svc, Metrics: detection.NewMetrics(reg, rs)})

		events := capturedEvents(t)
		f := newFakeAdmin(t, atlassian.EndpointEventsStream, events, 10)
		f.fail("c2", 500, 500, 500, 500) // the first poll fails on page 3
		now := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
		sources := atlassian.NewJobs()
		sources.SetMetrics(atlassian.NewMetrics(reg, "org", "idle"))
		sources.Add(e.poller(f, func(c *atlassian.Config) { c.Now = func() time.Time { return now } }))
		l, err := jobs.New(ctx, jobs.Config{DB: e.st.Handle(), Queues: map[string]int{atlassian.Queue: 1}, PollInterval: 20 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		sources.Register(l)
		if err := l.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = l.Stop(sctx)
		})
		poll := func() {
			t.Helper()
			if err := e.st.InTx(ctx, func(tx store.Tx) error {
				return l.InsertTx(ctx, tx, river.InsertManyParams{Args: atlassian.PollArgs{Source: "org"},
					InsertOpts: &river.InsertOpts{Queue: atlassian.Queue, MaxAttempts: 1}})
			}); err != nil {
				t.Fatal(err)
			}
			testdb.Settle(t, e.st, 20*time.Second, nil)
		}

		poll() // fails after two pages
		want := `
# HELP alertbridge_source_events_total New events read from the source and applied (events read again in a window's overlap are not counted).
# TYPE alertbridge_source_events_total counter
alertbridge_source_events_total{source="idle"} 0
alertbridge_source_events_total{source="org"} 20
# HELP alertbridge_source_last_success_timestamp_seconds When a poll of the source last succeeded here, in Unix seconds; 0 if none has.
# TYPE alertbridge_source_last_success_timestamp_seconds gauge
alertbridge_source_last_success_timestamp_seconds{source="idle"} 0
alertbridge_source_last_success_timestamp_seconds{source="org"} 0
# HELP alertbridge_source_polls_total Polls of the source by outcome (ok, failed).
# TYPE alertbridge_source_polls_total counter
alertbridge_source_polls_total{outcome="failed",source="idle"} 0
alertbridge_source_polls_total{outcome="failed",source="org"} 1
alertbridge_source_polls_total{outcome="ok",source="idle"} 0
alertbridge_source_polls_total{outcome="ok",source="org"} 0
`
		names := []string{"alertbridge_source_events_total", "alertbridge_source_last_success_timestamp_seconds", "alertbridge_source_polls_total"}
		if err := testutil.GatherAndCompare(reg, strings.NewReader(want), names...); err != nil {
			t.Errorf("after the failed poll: %v", err)
		}

		poll() // resumes and reads the rest
		poll() // reads the window again: every event a repeat
		want = fmt.Sprintf(`
# HELP alertbridge_source_events_total New events read from the source and applied (events read again in a window's overlap are not counted).
# TYPE alertbridge_source_events_total counter
alertbridge_source_events_total{source="idle"} 0
alertbridge_source_events_total{source="org"} %d
# HELP alertbridge_source_last_success_timestamp_seconds When a poll of the source last succeeded here, in Unix seconds; 0 if none has.
# TYPE alertbridge_source_last_success_timestamp_seconds gauge
alertbridge_source_last_success_timestamp_seconds{source="idle"} 0
alertbridge_source_last_success_timestamp_seconds{source="org"} %d
# HELP alertbridge_source_polls_total Polls of the source by outcome (ok, failed).
# TYPE alertbridge_source_polls_total counter
alertbridge_source_polls_total{outcome="failed",source="idle"} 0
alertbridge_source_polls_total{outcome="failed",source="org"} 1
alertbridge_source_polls_total{outcome="ok",source="idle"} 0
alertbridge_source_polls_total{outcome="ok",source="org"} 2
`, len(events), now.Unix())
		if err := testutil.GatherAndCompare(reg, strings.NewReader(want), names...); err != nil {
			t.Errorf("after three polls: %v", err)
		}

		// Each event was evaluated by every rule of its log type once in
		// the counts, though the last poll ran them all again.
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		evaluations := map[string]float64{}
		var matches float64
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				switch mf.GetName() {
				case "alertbridge_rule_evaluations_total":
					evaluations[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
				case "alertbridge_rule_matches_total":
					matches += m.GetCounter().GetValue()
				}
			}
		}
		for _, r := range rs.Rules() {
			if r.Enabled && evaluations[r.ID] != float64(len(events)) {
				t.Errorf("%s: %v evaluations, want %d", r.ID, evaluations[r.ID], len(events))
			}
		}
		// Five rules raise an alert; one matches once below its threshold.
		if matches != float64(len(wantRules)+1) {
			t.Errorf("%v matches, want %d", matches, len(wantRules)+1)
		}
	})
}
