package httpapi

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	ingest        *prometheus.CounterVec
	ingestSeconds *prometheus.HistogramVec
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
	}
	reg.MustRegister(m.ingest, m.ingestSeconds)
	return m
}
