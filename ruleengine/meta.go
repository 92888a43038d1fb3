package ruleengine

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/alertbridge/alertbridge/alert"
)

// Panther's defaults for the optional metadata.
const (
	defaultDedupMinutes = 60
	defaultThreshold    = 1
)

// ruleKeys and testKeys are the metadata names we accept. They are Panther's,
// so its rule files load here unchanged where they use only these; anything
// else is reported rather than silently ignored, because a misspelt key (say
// "Treshold") would otherwise quietly change what a rule does.
var (
	ruleKeys = []string{
		"AnalysisType", "RuleID", "DisplayName", "Enabled", "Filename", "LogTypes",
		"Severity", "DedupPeriodMinutes", "Threshold", "OutputIds", "Runbook",
		"Reference", "Tags", "Description", "Tests",
	}
	testKeys = []string{
		"Name", "ExpectedResult", "Log", "ExpectedTitle", "ExpectedSeverity",
		"ExpectedDedup", "ExpectedDestinations",
	}
)

type ruleFile struct {
	AnalysisType       string     `yaml:"AnalysisType"`
	RuleID             string     `yaml:"RuleID"`
	DisplayName        string     `yaml:"DisplayName"`
	Enabled            *bool      `yaml:"Enabled"`
	Filename           string     `yaml:"Filename"`
	LogTypes           []string   `yaml:"LogTypes"`
	Severity           string     `yaml:"Severity"`
	DedupPeriodMinutes *int       `yaml:"DedupPeriodMinutes"`
	Threshold          *int       `yaml:"Threshold"`
	OutputIds          []string   `yaml:"OutputIds"`
	Runbook            string     `yaml:"Runbook"`
	Reference          string     `yaml:"Reference"`
	Tags               []string   `yaml:"Tags"`
	Description        string     `yaml:"Description"`
	Tests              []testFile `yaml:"Tests"`
}

type testFile struct {
	Name                 string    `yaml:"Name"`
	ExpectedResult       *bool     `yaml:"ExpectedResult"`
	Log                  yaml.Node `yaml:"Log"`
	ExpectedTitle        *string   `yaml:"ExpectedTitle"`
	ExpectedSeverity     *string   `yaml:"ExpectedSeverity"`
	ExpectedDedup        *string   `yaml:"ExpectedDedup"`
	ExpectedDestinations *[]string `yaml:"ExpectedDestinations"`
}

// parseMeta reads a rule's YAML into a Rule without its code, and the name
// of its Starlark file. It returns every problem it finds, not just the
// first, so one run of the loader shows an author everything to fix. The Rule
// is nil only when the YAML could not be read as rule metadata at all.
func parseMeta(data []byte) (*Rule, string, []error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, "", []error{err}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, "", []error{errors.New("empty file")}
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, "", []error{fmt.Errorf("line %d: want a mapping of rule metadata", root.Line)}
	}

	errs := checkKeys(root, ruleKeys, "")
	if tests := mappingValue(root, "Tests"); tests != nil && tests.Kind == yaml.SequenceNode {
		for i, t := range tests.Content {
			if t.Kind == yaml.MappingNode {
				errs = append(errs, checkKeys(t, testKeys, fmt.Sprintf("Tests[%d]", i))...)
			}
		}
	}

	// Node.Decode ignores unknown keys, which checkKeys has reported, so the
	// rest of the file is still checked.
	var rf ruleFile
	if err := root.Decode(&rf); err != nil {
		filename := ""
		if n := mappingValue(root, "Filename"); n != nil && n.Kind == yaml.ScalarNode {
			filename = n.Value
		}
		return nil, filename, append(errs, decodeErrors(err)...)
	}
	r, rerrs := rf.rule()
	return r, rf.Filename, append(errs, rerrs...)
}

func (rf *ruleFile) rule() (*Rule, []error) {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if rf.AnalysisType != "rule" {
		bad("AnalysisType is %q, want \"rule\"", rf.AnalysisType)
	}
	if strings.TrimSpace(rf.RuleID) == "" {
		bad("RuleID is required")
	}
	if rf.Filename == "" {
		bad("Filename is required (the rule's Starlark file)")
	}
	if len(rf.LogTypes) == 0 {
		bad("LogTypes is required and may not be empty")
	}
	for _, lt := range rf.LogTypes {
		if strings.TrimSpace(lt) == "" {
			bad("LogTypes has an empty entry")
		}
	}
	var sev alert.Severity
	if rf.Severity == "" {
		bad("Severity is required")
	} else if s, err := alert.ParseSeverity(rf.Severity); err != nil {
		bad("Severity: %v", err)
	} else {
		sev = s
	}

	r := &Rule{
		ID:          rf.RuleID,
		DisplayName: rf.DisplayName,
		Enabled:     true,
		LogTypes:    rf.LogTypes,
		Severity:    sev,
		DedupPeriod: defaultDedupMinutes * time.Minute,
		Threshold:   defaultThreshold,
		OutputIDs:   rf.OutputIds,
		Runbook:     rf.Runbook,
		Reference:   rf.Reference,
		Description: rf.Description,
		Tags:        rf.Tags,
	}
	if rf.Enabled != nil {
		r.Enabled = *rf.Enabled
	}
	if m := rf.DedupPeriodMinutes; m != nil {
		// A year is far beyond any useful window, and keeps the Duration
		// arithmetic well away from overflow.
		if *m < 1 || *m > 525600 {
			bad("DedupPeriodMinutes is %d, want 1 to 525600", *m)
		}
		r.DedupPeriod = time.Duration(*m) * time.Minute
	}
	if t := rf.Threshold; t != nil {
		if *t < 1 {
			bad("Threshold is %d, want at least 1", *t)
		}
		r.Threshold = *t
	}

	seen := map[string]bool{}
	for i, tf := range rf.Tests {
		t, terrs := tf.test()
		for _, err := range terrs {
			bad("Tests[%d] (%s): %v", i, tf.Name, err)
		}
		if tf.Name != "" && seen[tf.Name] {
			bad("Tests[%d]: duplicate test name %q", i, tf.Name)
		}
		seen[tf.Name] = true
		r.Tests = append(r.Tests, t)
	}
	return r, errs
}

func (tf *testFile) test() (Test, []error) {
	var errs []error
	t := Test{
		Name:          tf.Name,
		ExpectedTitle: tf.ExpectedTitle,
		ExpectedDedup: tf.ExpectedDedup,
	}
	if tf.Name == "" {
		errs = append(errs, errors.New("Name is required"))
	}
	if tf.ExpectedResult == nil {
		errs = append(errs, errors.New("ExpectedResult is required"))
	} else {
		t.ExpectedResult = *tf.ExpectedResult
	}
	if tf.ExpectedSeverity != nil {
		s, err := alert.ParseSeverity(*tf.ExpectedSeverity)
		if err != nil {
			errs = append(errs, fmt.Errorf("ExpectedSeverity: %w", err))
		}
		t.ExpectedSeverity = &s
	}
	if tf.ExpectedDestinations != nil {
		// An explicit empty list means "expects no destinations", which a
		// nil slice could not say.
		t.ExpectedDestinations = append([]string{}, (*tf.ExpectedDestinations)...)
	}
	if tf.Log.Kind != yaml.MappingNode {
		errs = append(errs, errors.New("Log is required and must be a mapping (the event)"))
		return t, errs
	}
	log, err := nodeValue(&tf.Log)
	if err != nil {
		errs = append(errs, fmt.Errorf("Log: %w", err))
		return t, errs
	}
	t.Log = log.(map[string]any)
	return t, errs
}

// decodeErrors splits yaml's multi-line error into one error per problem, so
// each can be reported with its file. Duplicate keys are left out: checkKeys
// has reported them already, more plainly.
func decodeErrors(err error) []error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return []error{err}
	}
	var errs []error
	for _, msg := range te.Errors {
		if !strings.Contains(msg, "already defined at line") {
			errs = append(errs, errors.New(msg))
		}
	}
	return errs
}

// checkKeys reports keys of mapping n not in known, and keys given twice.
func checkKeys(n *yaml.Node, known []string, where string) []error {
	var errs []error
	at := ""
	if where != "" {
		at = " in " + where
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if line, dup := seen[k.Value]; dup {
			errs = append(errs, fmt.Errorf("line %d: key %q%s given twice (first at line %d)", k.Line, k.Value, at, line))
			continue
		}
		seen[k.Value] = k.Line
		if !slices.Contains(known, k.Value) {
			errs = append(errs, fmt.Errorf("line %d: unknown key %q%s (known keys: %s)", k.Line, k.Value, at, strings.Join(known, ", ")))
		}
	}
	return errs
}

func mappingValue(n *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}
