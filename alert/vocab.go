package alert

import (
	"fmt"
	"strings"
)

// Severity is how urgent an alert is. The zero value means "not set".
type Severity string

const (
	SeverityInfo     Severity = "INFO"
	SeverityLow      Severity = "LOW"
	SeverityMedium   Severity = "MEDIUM"
	SeverityHigh     Severity = "HIGH"
	SeverityCritical Severity = "CRITICAL"
)

// Severities lists every severity from least to most urgent.
var Severities = []Severity{SeverityInfo, SeverityLow, SeverityMedium, SeverityHigh, SeverityCritical}

// ParseSeverity matches s case-insensitively against the severities.
func ParseSeverity(s string) (Severity, error) {
	return parse(s, Severities, "severity")
}

// Rank orders severities: INFO is 1, CRITICAL 5, an unset or unknown one 0.
func (s Severity) Rank() int {
	for i, v := range Severities {
		if v == s {
			return i + 1
		}
	}
	return 0
}

// Type is the kind of detection that raised an alert.
type Type string

const (
	TypeRule          Type = "RULE"
	TypeRuleError     Type = "RULE_ERROR"
	TypePolicy        Type = "POLICY"
	TypeScheduledRule Type = "SCHEDULED_RULE"
	TypeSystemError   Type = "SYSTEM_ERROR"
)

// Types lists every alert type.
var Types = []Type{TypeRule, TypeRuleError, TypePolicy, TypeScheduledRule, TypeSystemError}

// ParseType matches s case-insensitively against the alert types.
func ParseType(s string) (Type, error) {
	return parse(s, Types, "alert type")
}

// Status is where an alert stands in its triage.
type Status string

const (
	StatusOpen     Status = "OPEN"
	StatusTriaged  Status = "TRIAGED"
	StatusResolved Status = "RESOLVED"
	StatusClosed   Status = "CLOSED"
)

// Statuses lists every status in workflow order.
var Statuses = []Status{StatusOpen, StatusTriaged, StatusResolved, StatusClosed}

// Firing reports whether an alert in status s is still on: OPEN or
// TRIAGED, not yet resolved or closed.
func (s Status) Firing() bool { return s == StatusOpen || s == StatusTriaged }

// ParseStatus matches s case-insensitively against the statuses.
func ParseStatus(s string) (Status, error) {
	return parse(s, Statuses, "status")
}

func parse[T ~string](s string, known []T, what string) (T, error) {
	for _, k := range known {
		if strings.EqualFold(s, string(k)) {
			return k, nil
		}
	}
	names := make([]string, len(known))
	for i, k := range known {
		names[i] = string(k)
	}
	return "", fmt.Errorf("unknown %s %q (want one of %s)", what, s, strings.Join(names, ", "))
}
