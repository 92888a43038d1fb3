package ruleengine

import (
	"sort"

	"github.com/alertbridge/alertbridge/pyrules"
)

// RuleSet is a loaded set of rules and the Python workers that run them. It
// is safe for concurrent use. The zero value is an empty set; one that
// loaded rules holds worker processes until Close.
type RuleSet struct {
	rules     []*Rule            // every rule, by ID
	byIdx     map[int]*Rule      // by index in the pool's spec
	byLogType map[string][]*Rule // enabled rules only, by ID
	pool      *pyrules.Pool
	notes     []string
}

func (rs *RuleSet) index(rules []*Rule) {
	sort.Slice(rules, func(i, j int) bool { return rules[i].ID < rules[j].ID })
	rs.rules, rs.byIdx, rs.byLogType = rules, map[int]*Rule{}, map[string][]*Rule{}
	for _, r := range rules {
		rs.byIdx[r.idx] = r
		if !r.Enabled {
			continue
		}
		seen := map[string]bool{}
		for _, lt := range r.LogTypes {
			if !seen[lt] {
				seen[lt] = true
				rs.byLogType[lt] = append(rs.byLogType[lt], r)
			}
		}
	}
}

// Close stops the rule set's workers once the evaluations in progress end.
// A closed set evaluates nothing.
func (rs *RuleSet) Close() error {
	if rs == nil || rs.pool == nil {
		return nil
	}
	return rs.pool.Close()
}

// Notes are what loading skipped or could not use, one line each (analysis
// types other than rules, helpers and data models; helpers that do not
// import).
func (rs *RuleSet) Notes() []string { return append([]string(nil), rs.notes...) }

// PeakRSS is the most memory any of the set's workers has held, in bytes.
func (rs *RuleSet) PeakRSS() int64 {
	if rs.pool == nil {
		return 0
	}
	return rs.pool.PeakRSS()
}

// Rules returns every loaded rule, enabled or not, ordered by ID.
func (rs *RuleSet) Rules() []*Rule {
	return append([]*Rule(nil), rs.rules...)
}

// Rule returns the rule with the given ID, or nil.
func (rs *RuleSet) Rule(id string) *Rule {
	i := sort.Search(len(rs.rules), func(i int) bool { return rs.rules[i].ID >= id })
	if i < len(rs.rules) && rs.rules[i].ID == id {
		return rs.rules[i]
	}
	return nil
}

// Listening says how many enabled rules read the log type: zero means
// events of that type are accepted but nothing looks at them.
func (rs *RuleSet) Listening(logType string) int {
	return len(rs.byLogType[logType])
}

// EachListening calls fn with each enabled rule that reads logType, in ID
// order: the rules Evaluate runs for an event of that type.
func (rs *RuleSet) EachListening(logType string, fn func(*Rule)) {
	for _, r := range rs.byLogType[logType] {
		fn(r)
	}
}
