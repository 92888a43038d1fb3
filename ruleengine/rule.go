package ruleengine

import (
	"time"

	"github.com/alertbridge/alertbridge/alert"
	"github.com/alertbridge/alertbridge/pyrules"
)

// Rule is one loaded detection: its metadata from YAML and its Python
// module, loaded in the worker pool. A Rule is immutable once loaded and safe
// to share.
type Rule struct {
	ID          string
	DisplayName string
	AlertTitle  string // Panther's static title, used when there is no title()
	Enabled     bool
	// CreateAlert false: the rule matches (and is counted) without alerting.
	CreateAlert bool
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

	// Panther metadata kept for what it says; they change no behaviour.
	Reports           map[string]any
	SummaryAttributes []string
	Status            string
	// InlineFilters are Panther's YAML conditions, checked before rule().
	InlineFilters any

	// Funcs are the Panther functions the module defines.
	Funcs []string

	// Path is the YAML file, Source the Python file it names.
	Path   string
	Source string
	// Version identifies the rule's content (metadata and code), so an alert
	// says which revision of a rule raised it.
	Version string

	idx int // in the pool's Spec
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

	// Mocks replace names in the rule's module for this test; LogType
	// says which of the rule's log types (and data model) the event is.
	Mocks   []pyrules.Mock
	LogType string
}

// defaultTitle is Panther's fallback when a rule has no title function.
func (r *Rule) defaultTitle() string {
	if r.AlertTitle != "" {
		return r.AlertTitle
	}
	if r.DisplayName != "" {
		return r.DisplayName
	}
	return r.ID
}
