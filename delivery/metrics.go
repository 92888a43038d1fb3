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
	outcomes *prometheus.CounterVec
	attempt  *prometheus.HistogramVec
	latency  *prometheus.HistogramVec
}

// NewMetrics registers the delivery metrics, and a queue depth gauge read
// from st at scrape time.
func NewMetrics(reg prometheus.Registerer, st store.Store) *Metrics {
	m := &Metrics{
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "alertbridge_deliveries_total",
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
	reg.MustRegister(m.outcomes, m.attempt, m.latency, &depthCollector{st: st,
		desc: prometheus.NewDesc("alertbridge_queue_depth", "Deliveries waiting, by state (pending, retrying).", []string{"state"}, nil)})
	return m
}

func (m *Metrics) observeAttempt(dest string, d time.Duration) {
	if m != nil {
		m.attempt.WithLabelValues(dest).Observe(d.Seconds())
	}
}

// observeOutcome counts an attempt's outcome; a delivery's latency runs from
// when it was queued (with its alert, or on dispatch) to when it landed.
func (m *Metrics) observeOutcome(d *store.Delivery, outcome string, a *alert.Alert, now time.Time) {
	if m == nil {
		return
	}
	m.outcomes.WithLabelValues(d.Destination, outcome).Inc()
	if outcome == "delivered" && a.Source != alert.SourceTest {
		m.latency.WithLabelValues(d.Destination).Observe(now.Sub(d.CreatedAt).Seconds())
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
