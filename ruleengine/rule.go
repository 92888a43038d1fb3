package ruleengine

import (
	"time"

	"github.com/alertbridge/alertbridge/alert"
)

// Rule is one loaded detection: its metadata from YAML and its compiled
// Starlark module. A Rule is immutable once loaded and safe to share.
type Rule struct {
	ID          string
	DisplayName string
	Enabled     bool
	LogTypes    []string
	Severity    alert.Severity
	DedupPeriod time.Duration
	Threshold   int
	OutputIDs   []string // static destination override
	Runbook     string
	Reference   string
	Description string
	Tags        []string
	Tests       []Test

	// Path is the YAML file, Source the Starlark file it names.
	Path   string
	Source string
	// Version identifies the rule's content (metadata and code), so an alert
	// says which revision of a rule raised it.
	Version string

	mod *module
}

// Test is one unit test embedded in a rule's YAML.
type Test struct {
	Name           string
	ExpectedResult bool
	Log            map[string]any

	// Optional expectations, checked only when the rule matches. A nil
	// pointer or slice means "not checked".
	ExpectedTitle        *string
	ExpectedSeverity     *alert.Severity
	ExpectedDedup        *string
	ExpectedDestinations []string
}

// defaultTitle is Panther's fallback when a rule has no title function.
func (r *Rule) defaultTitle() string {
	if r.DisplayName != "" {
		return r.DisplayName
	}
	return r.ID
}
