package ruleengine

import "sort"

// RuleSet is a loaded, compiled set of rules. It is safe for concurrent use;
// set Limits before the first Evaluate.
type RuleSet struct {
	Limits Limits

	rules     []*Rule            // every rule, by ID
	byLogType map[string][]*Rule // enabled rules only, by ID
}

func newRuleSet(rules []*Rule) *RuleSet {
	sort.Slice(rules, func(i, j int) bool { return rules[i].ID < rules[j].ID })
	rs := &RuleSet{rules: rules, byLogType: map[string][]*Rule{}}
	for _, r := range rules {
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
	return rs
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
