package delivery_test

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/alertbridge/alertbridge/delivery"
	"github.com/alertbridge/alertbridge/destination"
	"github.com/alertbridge/alertbridge/destination/webhook"
	"github.com/alertbridge/alertbridge/internal/testdb"
	"github.com/alertbridge/alertbridge/store"
)

// Deliveries are counted once, by how they ended; attempts apart, by what
// each met. A destination nothing was sent to has its counters at zero.
func TestDeliveryMetricsCountDeliveriesAndAttempts(t *testing.T) {
	testdb.Each(t, func(t *testing.T, driver string) {
		// a-1: a 500 (retry), a 429 (snoozed, no attempt spent), then 200.
		// a-2: a 400, which fails at once. a-3: two 500s, the second on
		// its last attempt.
		rcv := &script{answers: []int{500, 429, 200, 400, 500, 500}}
		srv := httptest.NewServer(rcv)
		t.Cleanup(srv.Close)
		st := testdb.Open(t, driver)
		reg := prometheus.NewRegistry()
		_, q := start(t, st, delivery.Config{
			Notifiers:   map[string]destination.Notifier{"hook": webhook.New(webhook.Config{URL: srv.URL, Timeout: 5 * time.Second})},
			MaxAttempts: func(string) int { return 2 },
			Metrics:     delivery.NewMetrics(reg, st, "hook", "idle"),
		}, true)
		f := &fixture{st: st, q: q, rcv: rcv}
		for _, c := range []struct {
			id   string
			want store.DeliveryState
		}{{"a-1", store.DeliveryDelivered}, {"a-2", store.DeliveryFailed}, {"a-3", store.DeliveryFailed}} {
			if d := f.settle(t, f.enqueue(t, c.id).ID, 15*time.Second); d.State != c.want {
				t.Fatalf("%s: %s (%s), want %s", c.id, d.State, d.LastError, c.want)
			}
		}
		waitMetrics(t, reg, `
# HELP alertbridge_deliveries_total Deliveries by destination and final outcome (delivered, failed), each counted once however many attempts it took.
# TYPE alertbridge_deliveries_total counter
alertbridge_deliveries_total{destination="hook",outcome="delivered"} 1
alertbridge_deliveries_total{destination="hook",outcome="failed"} 2
alertbridge_deliveries_total{destination="idle",outcome="delivered"} 0
alertbridge_deliveries_total{destination="idle",outcome="failed"} 0
# HELP alertbridge_delivery_attempts_total Delivery attempts by destination and outcome (delivered, retry, snoozed, failed).
# TYPE alertbridge_delivery_attempts_total counter
alertbridge_delivery_attempts_total{destination="hook",outcome="delivered"} 1
alertbridge_delivery_attempts_total{destination="hook",outcome="failed"} 2
alertbridge_delivery_attempts_total{destination="hook",outcome="retry"} 2
alertbridge_delivery_attempts_total{destination="hook",outcome="snoozed"} 1
alertbridge_delivery_attempts_total{destination="idle",outcome="delivered"} 0
alertbridge_delivery_attempts_total{destination="idle",outcome="failed"} 0
alertbridge_delivery_attempts_total{destination="idle",outcome="retry"} 0
alertbridge_delivery_attempts_total{destination="idle",outcome="snoozed"} 0
`, "alertbridge_deliveries_total", "alertbridge_delivery_attempts_total")
		// Six requests reached the receiver and were timed; one delivery
		// landed and has a latency.
		if n := testutil.CollectAndCount(reg, "alertbridge_delivery_attempt_seconds"); n != 1 {
			t.Errorf("attempt histograms: %d series", n)
		}
		if got := histogramCount(t, reg, "alertbridge_delivery_attempt_seconds"); got != 6 {
			t.Errorf("attempts timed: %d, want 6", got)
		}
		if got := histogramCount(t, reg, "alertbridge_delivery_latency_seconds"); got != 1 {
			t.Errorf("latencies observed: %d, want 1", got)
		}
	})
}

// waitMetrics waits for the registry to hold exactly want for the names:
// an outcome is counted just after it is written, so a test that saw the
// write may look a moment too early.
func waitMetrics(t *testing.T, reg *prometheus.Registry, want string, names ...string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := testutil.GatherAndCompare(reg, strings.NewReader(want), names...)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func histogramCount(t *testing.T, reg *prometheus.Registry, name string) uint64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var n uint64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				n += m.GetHistogram().GetSampleCount()
			}
		}
	}
	return n
}
