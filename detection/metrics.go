package detection

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/alertbridge/alertbridge/ruleengine"
)

// Metrics count what the rules did. A nil *Metrics records nothing.
//
// Evaluations, matches and errors are counted for new events only, once
// their batch has committed: a source reads the overlap of its windows
// again, and a re-read event is evaluated again but must not count twice,
// or matches would not be the events a rule caught. The evaluation time
// is of every event evaluated, since it measures work done.
type Metrics struct {
	evaluations *prometheus.CounterVec
	matches     *prometheus.CounterVec
	errors      *prometheus.CounterVec
	seconds     prometheus.Histogram
}

// NewMetrics registers the rule metrics, with the counters of every
// enabled rule in rules at zero, so that an alert on a rule's error rate
// can fire at its first error.
func NewMetrics(reg prometheus.Registerer, rules *ruleengine.RuleSet) *Metrics {
	m := &Metrics{
		evaluations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "alertbridge_rule_evaluations_total",
			Help: "Events a detection rule was run on, by rule (new events only: a source's re-reads are not counted).",
		}, []string{"rule"}),
		matches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "alertbridge_rule_matches_total",
			Help: "Events a detection rule matched, by rule.",
		}, []string{"rule"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "alertbridge_rule_errors_total",
			Help: "Events on which a detection rule failed (rule() or one of its optional functions), by rule.",
		}, []string{"rule"}),
		// Per event, not per batch: batches are as large as a source's
		// page or an HTTP request happens to be, so a batch's time says
		// more about its size than about the rules. Per event it is the
		// cost of the rules one event meets, which is what grows when a
		// rule turns slow.
		seconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "alertbridge_rule_evaluation_seconds",
			Help:    "Time to run the rules that read an event over it, per event.",
			Buckets: prometheus.ExponentialBuckets(0.00005, 2.5, 12),
		}),
	}
	if rules != nil {
		for _, r := range rules.Rules() {
			if r.Enabled {
				m.evaluations.WithLabelValues(r.ID)
				m.matches.WithLabelValues(r.ID)
				m.errors.WithLabelValues(r.ID)
			}
		}
	}
	reg.MustRegister(m.evaluations, m.matches, m.errors, m.seconds)
	return m
}

func (m *Metrics) evaluated(d time.Duration) {
	if m != nil {
		m.seconds.Observe(d.Seconds())
	}
}

// tally is what the new events of one batch did, by rule ID.
type tally struct{ rules map[string]*ruleCounts }

type ruleCounts struct{ evaluations, matches, errors int }

func (t *tally) rule(id string) *ruleCounts {
	c := t.rules[id]
	if c == nil {
		c = &ruleCounts{}
		t.rules[id] = c
	}
	return c
}

// add counts one new event's verdicts: every rule that read it was
// evaluated, and a rule that failed in several of its functions failed
// once on the event.
func (t *tally) add(rules *ruleengine.RuleSet, logType string, matches []ruleengine.Match, errs []ruleengine.RuleError) {
	rules.EachListening(logType, func(r *ruleengine.Rule) { t.rule(r.ID).evaluations++ })
	for _, m := range matches {
		t.rule(m.Rule.ID).matches++
	}
	for i, e := range errs {
		first := true
		for _, prev := range errs[:i] {
			if prev.Rule.ID == e.Rule.ID {
				first = false
				break
			}
		}
		if first {
			t.rule(e.Rule.ID).errors++
		}
	}
}

func (m *Metrics) record(t *tally) {
	if m == nil || t == nil {
		return
	}
	for id, c := range t.rules {
		if c.evaluations > 0 {
			m.evaluations.WithLabelValues(id).Add(float64(c.evaluations))
		}
		if c.matches > 0 {
			m.matches.WithLabelValues(id).Add(float64(c.matches))
		}
		if c.errors > 0 {
			m.errors.WithLabelValues(id).Add(float64(c.errors))
		}
	}
}
