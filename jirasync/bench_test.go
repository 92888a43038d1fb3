package jirasync_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alertbridge/alertbridge/alert"
	"github.com/alertbridge/alertbridge/jira"
	"github.com/alertbridge/alertbridge/lifecycle"
)

// report adds the median and p99 of the latencies, in milliseconds.
func report(b *testing.B, ds []time.Duration) {
	b.Helper()
	if len(ds) == 0 {
		b.Fatal("no latencies measured")
	}
	slices.Sort(ds)
	at := func(q float64) float64 {
		return float64(ds[min(len(ds)-1, int(q*float64(len(ds))))].Microseconds()) / 1000
	}
	b.ReportMetric(at(0.5), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
	b.ReportMetric(0, "ns/op") // wall time per op includes waiting; the quantiles are the figures
}

// BenchmarkWebhookToAlert: a status change made in Jira, from the webhook's
// arrival at alertbridge to the alert updated (the receiver applies it before
// it answers). go test -run '^$' -bench WebhookToAlert -benchtime 200x ./jirasync
func BenchmarkWebhookToAlert(b *testing.B) {
	x := newE2E(b, "sqlite", []siteSpec{{jira.DeploymentCloud, []string{"jira-a"}}})
	var (
		mu  sync.Mutex
		got []time.Duration
	)
	f := func(d time.Duration) { mu.Lock(); got = append(got, d); mu.Unlock() }
	x.handled.Store(&f)
	targets := []struct {
		jira  string
		alert alert.Status
	}{{"In Progress", alert.StatusTriaged}, {"To Do", alert.StatusOpen}}
	b.ResetTimer()
	for i := range b.N {
		tg := targets[i%2]
		mu.Lock()
		n := len(got)
		mu.Unlock()
		x.transitionAsAnn(b, "jira-a", tg.jira)
		waitFor(b, "the alert status", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(got) > n && x.record(b).Alert.Status == tg.alert
		})
	}
	b.StopTimer()
	mu.Lock()
	defer mu.Unlock()
	report(b, got)
}

// BenchmarkPatchToTransition: an alert status change through the service
// (what PATCH /api/v1/alerts/{id} calls), from the call to the transition
// request arriving at Jira. go test -run '^$' -bench PatchToTransition -benchtime 200x ./jirasync
func BenchmarkPatchToTransition(b *testing.B) {
	ctx := context.Background()
	x := newE2E(b, "sqlite", []siteSpec{{jira.DeploymentCloud, []string{"jira-a"}}})
	sb := x.dsite["jira-a"].sb
	isTransition := func(method, path string) bool {
		return method == "POST" && strings.HasSuffix(path, "/transitions")
	}
	var got []time.Duration
	statuses := []alert.Status{alert.StatusTriaged, alert.StatusOpen}
	b.ResetTimer()
	for i := range b.N {
		seen := len(sb.Requests())
		st := statuses[i%2]
		start := time.Now()
		if _, err := x.svc.Update(ctx, x.alert, lifecycle.Patch{Status: &st, Actor: "bench"}); err != nil {
			b.Fatal(err)
		}
		var at time.Time
		waitFor(b, "the transition request", func() bool {
			for _, r := range sb.Requests()[seen:] {
				if isTransition(r.Method, r.Path) {
					at = r.Time
					return true
				}
			}
			return false
		})
		got = append(got, at.Sub(start))
		// Let the job finish (its note) before the next change.
		waitFor(b, "the sync result", func() bool {
			n := 0
			for _, e := range x.record(b).Timeline {
				if e.Action == "jira_synced" {
					n++
				}
			}
			return n == i+1
		})
	}
	b.StopTimer()
	report(b, got)
}
