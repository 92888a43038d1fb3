package httpapi

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	ingest        *prometheus.CounterVec
	ingestSeconds *prometheus.HistogramVec
	truncated     *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		ingest: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "alertbridge_ingest_total",
			Help: "Alerts received by endpoint and result (accepted, duplicate, or the error code).",
		}, []string{"endpoint", "result"}),
		ingestSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "alertbridge_ingest_duration_seconds",
			Help:    "Time to accept an ingest request, durable commit included.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2.5, 12),
		}, []string{"endpoint"}),
		truncated: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "alertbridge_alertmanager_truncated_alerts_total",
			Help: "Alerts Alertmanager or Grafana left out of the notifications they sent (truncatedAlerts), by endpoint.",
		}, []string{"endpoint"}),
	}
	// Initialised, so that a rate over the counter is defined before the
	// first truncated notification and an alert on it can fire at the first.
	for _, e := range []string{"alertmanager", "grafana"} {
		m.truncated.WithLabelValues(e)
	}
	reg.MustRegister(m.ingest, m.ingestSeconds, m.truncated)
	return m
}
