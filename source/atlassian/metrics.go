package atlassian

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics say whether each source is being read. A nil *Metrics records
// nothing.
//
// They are of the polls this replica ran: with several replicas one polls
// a source at a time, so take the max (last success) or the sum (events,
// polls) across replicas.
type Metrics struct {
	lastSuccess *prometheus.GaugeVec
	events      *prometheus.CounterVec
	polls       *prometheus.CounterVec
}

// Poll outcomes.
const (
	pollOK     = "ok"
	pollFailed = "failed"
)

// NewMetrics registers the source metrics, with the counters of every
// source named at zero and its last success at 0 (never), so that an
// alert on a source that never succeeds has a value to fire on.
func NewMetrics(reg prometheus.Registerer, sources ...string) *Metrics {
	m := &Metrics{
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "alertbridge_source_last_success_timestamp_seconds",
			Help: "When a poll of the source last succeeded here, in Unix seconds; 0 if none has.",
		}, []string{"source"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "alertbridge_source_events_total",
			Help: "New events read from the source and applied (events read again in a window's overlap are not counted).",
		}, []string{"source"}),
		polls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "alertbridge_source_polls_total",
			Help: "Polls of the source by outcome (ok, failed).",
		}, []string{"source", "outcome"}),
	}
	for _, s := range sources {
		m.lastSuccess.WithLabelValues(s)
		m.events.WithLabelValues(s)
		m.polls.WithLabelValues(s, pollOK)
		m.polls.WithLabelValues(s, pollFailed)
	}
	reg.MustRegister(m.lastSuccess, m.events, m.polls)
	return m
}

// polled records one poll. Events applied before a poll failed count:
// their pages committed. An interrupted poll counts no outcome.
func (m *Metrics) polled(source string, stats PollStats, err error, interrupted bool, now time.Time) {
	if m == nil {
		return
	}
	m.events.WithLabelValues(source).Add(float64(stats.Events))
	switch {
	case err != nil && interrupted:
		return
	case err != nil:
		m.polls.WithLabelValues(source, pollFailed).Inc()
		return
	}
	m.polls.WithLabelValues(source, pollOK).Inc()
	m.lastSuccess.WithLabelValues(source).Set(float64(now.UnixNano()) / 1e9)
}
