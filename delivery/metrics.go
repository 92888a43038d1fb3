package delivery

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/alertbridge/alertbridge/alert"
	"github.com/alertbridge/alertbridge/store"
)

// Metrics are the queue's Prometheus metrics. A nil *Metrics records nothing.
type Metrics struct {
	deliveries *prometheus.CounterVec
	attempts   *prometheus.CounterVec
	attempt    *prometheus.HistogramVec
	latency    *prometheus.HistogramVec
}

// The outcomes deliveries and attempts are counted by.
var (
	deliveryOutcomes = []string{"delivered", "failed"}
	attemptOutcomes  = []string{"delivered", "retry", "snoozed", "failed"}
)

// NewMetrics registers the delivery metrics, and a queue depth gauge read
// from st at scrape time. The counters of each destination named start at
// zero, so that a rate over them (of failures, say) is defined before the
// first delivery and an alert on it can fire at the first failure.
func NewMetrics(reg prometheus.Registerer, st store.Store, destinations ...string) *Metrics {
	m := &Metrics{
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "alertbridge_deliveries_total",
			Help: "Deliveries by destination and final outcome (delivered, failed), each counted once however many attempts it took.",
		}, []string{"destination", "outcome"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "alertbridge_delivery_attempts_total",
			Help: "Delivery attempts by destination and outcome (delivered, retry, snoozed, failed).",
		}, []string{"destination", "outcome"}),
		attempt: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "alertbridge_delivery_attempt_seconds",
			Help:    "Time one delivery attempt spent in the destination.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2.5, 10),
		}, []string{"destination"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "alertbridge_delivery_latency_seconds",
			Help:    "Time from a delivery being queued (with its alert, or on dispatch) to its success.",
			Buckets: prometheus.ExponentialBuckets(0.01, 3, 10),
		}, []string{"destination"}),
	}
	for _, d := range destinations {
		for _, o := range deliveryOutcomes {
			m.deliveries.WithLabelValues(d, o)
		}
		for _, o := range attemptOutcomes {
			m.attempts.WithLabelValues(d, o)
		}
	}
	reg.MustRegister(m.deliveries, m.attempts, m.attempt, m.latency, &depthCollector{st: st,
		desc: prometheus.NewDesc("alertbridge_queue_depth", "Deliveries waiting, by state (pending, retrying).", []string{"state"}, nil)})
	return m
}

func (m *Metrics) observeAttempt(dest string, d time.Duration) {
	if m != nil {
		m.attempt.WithLabelValues(dest).Observe(d.Seconds())
	}
}

// observeOutcome counts an attempt's outcome, and the delivery's when the
// attempt was its last; a delivery's latency runs from when it was queued
// (with its alert, or on dispatch) to when it landed.
func (m *Metrics) observeOutcome(d *store.Delivery, outcome string, a *alert.Alert, now time.Time) {
	if m == nil {
		return
	}
	m.attempts.WithLabelValues(d.Destination, outcome).Inc()
	switch outcome {
	case "delivered":
		m.deliveries.WithLabelValues(d.Destination, outcome).Inc()
		if a.Source != alert.SourceTest {
			m.latency.WithLabelValues(d.Destination).Observe(now.Sub(d.CreatedAt).Seconds())
		}
	case "failed":
		m.deliveries.WithLabelValues(d.Destination, outcome).Inc()
	}
}

type depthCollector struct {
	st   store.Store
	desc *prometheus.Desc
}

func (c *depthCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *depthCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var counts map[store.DeliveryState]int
	if err := c.st.View(ctx, func(tx store.Tx) (err error) { counts, err = tx.CountDeliveries(ctx); return err }); err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	for state, n := range counts {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), string(state))
	}
}
