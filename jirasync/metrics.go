package jirasync

import "github.com/prometheus/client_golang/prometheus"

// Metrics count reconciles and what they sent. A nil *Metrics records
// nothing.
type Metrics struct {
	reconciles *prometheus.CounterVec
	effects    *prometheus.CounterVec
}

// Reconcile outcomes: done (the issue is in step), again (a change came
// while it ran, so it runs once more at once), retry (it failed and runs
// later) and failed (it will not run again).
const (
	outcomeDone   = "done"
	outcomeAgain  = "again"
	outcomeRetry  = "retry"
	outcomeFailed = "failed"
)

// Effects, by the field they change in Jira.
const (
	fieldStatus      = "status"
	fieldAssignee    = "assignee"
	fieldComment     = "comment"
	fieldCommentEdit = "comment_edit"
	fieldNote        = "note"
)

// NewMetrics registers the sync metrics. Each destination named starts
// with its counters at zero, so that a rate of failures is defined before
// the first one.
func NewMetrics(reg prometheus.Registerer, destinations ...string) *Metrics {
	m := &Metrics{
		reconciles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "alertbridge_jira_reconciles_total",
			Help: "Runs of Jira reconciles by destination and outcome (done, again, retry, failed).",
		}, []string{"destination", "outcome"}),
		effects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "alertbridge_jira_sync_effects_total",
			Help: "Changes reconciles made in Jira, by destination and field (status, assignee, comment, comment_edit, note).",
		}, []string{"destination", "field"}),
	}
	m.initialise(destinations...)
	reg.MustRegister(m.reconciles, m.effects)
	return m
}

func (m *Metrics) initialise(destinations ...string) {
	if m == nil {
		return
	}
	for _, d := range destinations {
		for _, o := range []string{outcomeDone, outcomeAgain, outcomeRetry, outcomeFailed} {
			m.reconciles.WithLabelValues(d, o)
		}
		for _, f := range []string{fieldStatus, fieldAssignee, fieldComment, fieldCommentEdit, fieldNote} {
			m.effects.WithLabelValues(d, f)
		}
	}
}

// SetMetrics makes the syncer count in m, starting the counters of every
// destination it syncs at zero. It is for a caller that did not build the
// Options; call it before the jobs start.
func (s *Syncer) SetMetrics(m *Metrics) {
	names := make([]string, 0, len(s.dests()))
	for name := range s.dests() {
		names = append(names, name)
	}
	m.initialise(names...)
	s.opts.Metrics = m
}

func (m *Metrics) reconciled(dest, outcome string) {
	if m != nil {
		m.reconciles.WithLabelValues(dest, outcome).Inc()
	}
}

func (m *Metrics) sent(dest, field string) {
	if m != nil {
		m.effects.WithLabelValues(dest, field).Inc()
	}
}
