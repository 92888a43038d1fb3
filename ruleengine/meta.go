package ruleengine

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/alertbridge/alertbridge/alert"
	"github.com/alertbridge/alertbridge/internal/suggest"
	"github.com/alertbridge/alertbridge/pyrules"
)

// Panther's defaults for the optional metadata.
const (
	defaultDedupMinutes = 60
	defaultThreshold    = 1
)

// The metadata names we accept are Panther's, so its analysis files load
// unchanged; anything else is reported rather than silently ignored, because
// a misspelt key (say "Treshold") would otherwise quietly change what a rule
// does.
var (
	ruleKeys = []string{
		"AnalysisType", "RuleID", "DisplayName", "Enabled", "Filename", "LogTypes",
		"Severity", "DedupPeriodMinutes", "Threshold", "OutputIds", "Runbook",
		"Reference", "Tags", "Description", "Tests", "Reports", "SummaryAttributes",
		"Status", "CreateAlert", "InlineFilters", "AlertTitle",
	}
	testKeys = []string{
		"Name", "ExpectedResult", "Log", "ExpectedTitle", "ExpectedSeverity",
		"ExpectedDedup", "ExpectedDestinations", "Mocks", "LogType",
	}
	globalKeys = []string{"AnalysisType", "GlobalID", "Filename", "Description", "Tags"}
	modelKeys  = []string{
		"AnalysisType", "DataModelID", "DisplayName", "Enabled", "Filename", "LogTypes", "Mappings",
		"Description", "Tags",
	}
)

// Analysis types, Panther's names for what a YAML file describes.
const (
	typeRule      = "rule"
	typeGlobal    = "global"
	typeDataModel = "datamodel"
)

type ruleFile struct {
	RuleID             string         `yaml:"RuleID"`
	DisplayName        string         `yaml:"DisplayName"`
	Enabled            *bool          `yaml:"Enabled"`
	Filename           string         `yaml:"Filename"`
	LogTypes           []string       `yaml:"LogTypes"`
	Severity           string         `yaml:"Severity"`
	DedupPeriodMinutes *int           `yaml:"DedupPeriodMinutes"`
	Threshold          *int           `yaml:"Threshold"`
	OutputIds          []string       `yaml:"OutputIds"`
	Runbook            string         `yaml:"Runbook"`
	Reference          string         `yaml:"Reference"`
	Tags               []string       `yaml:"Tags"`
	Description        string         `yaml:"Description"`
	AlertTitle         string         `yaml:"AlertTitle"`
	Reports            map[string]any `yaml:"Reports"`
	SummaryAttributes  []string       `yaml:"SummaryAttributes"`
	Status             string         `yaml:"Status"`
	CreateAlert        *bool          `yaml:"CreateAlert"`
	InlineFilters      yaml.Node      `yaml:"InlineFilters"`
	Tests              []testFile     `yaml:"Tests"`
}

type testFile struct {
	Name                 string     `yaml:"Name"`
	ExpectedResult       *bool      `yaml:"ExpectedResult"`
	Log                  yaml.Node  `yaml:"Log"`
	ExpectedTitle        *string    `yaml:"ExpectedTitle"`
	ExpectedSeverity     *string    `yaml:"ExpectedSeverity"`
	ExpectedDedup        *string    `yaml:"ExpectedDedup"`
	ExpectedDestinations *[]string  `yaml:"ExpectedDestinations"`
	Mocks                []mockFile `yaml:"Mocks"`
	LogType              string     `yaml:"LogType"`
}

type mockFile struct {
	ObjectName  string    `yaml:"objectName"`
	ReturnValue yaml.Node `yaml:"returnValue"`
}

type globalFile struct {
	GlobalID string `yaml:"GlobalID"`
	Filename string `yaml:"Filename"`
}

type modelFile struct {
	DataModelID string   `yaml:"DataModelID"`
	Enabled     *bool    `yaml:"Enabled"`
	Filename    string   `yaml:"Filename"`
	LogTypes    []string `yaml:"LogTypes"`
	Mappings    []struct {
		Name   string `yaml:"Name"`
		Path   string `yaml:"Path"`
		Method string `yaml:"Method"`
	} `yaml:"Mappings"`
}

// analysisFile is one YAML file read: its type and what it describes.
type analysisFile struct {
	Type     string // as written; "" when the file has none
	Rule     *Rule
	Helper   *pyrules.Helper
	Model    *pyrules.Model
	Filename string // the Python file it names, as written
	Problems []error
}

// parseAnalysis reads one analysis YAML file. It returns every problem it
// finds, not just the first, so one run shows an author everything to fix.
func parseAnalysis(data []byte) analysisFile {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return analysisFile{Problems: []error{err}}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return analysisFile{Problems: []error{errors.New("empty file")}}
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return analysisFile{Problems: []error{fmt.Errorf("line %d: want a mapping of analysis metadata", root.Line)}}
	}
	af := analysisFile{}
	if n := mappingValue(root, "AnalysisType"); n != nil {
		af.Type = n.Value
	}
	if n := mappingValue(root, "Filename"); n != nil && n.Kind == yaml.ScalarNode {
		af.Filename = n.Value
	}
	switch af.Type {
	case typeRule:
		af.Rule, af.Problems = parseRule(root)
	case typeGlobal:
		af.Problems = checkKeys(root, globalKeys, "")
		var gf globalFile
		if err := root.Decode(&gf); err != nil {
			af.Problems = append(af.Problems, decodeErrors(err)...)
		}
		if gf.GlobalID == "" {
			af.Problems = append(af.Problems, errors.New("GlobalID is required (the name rules import it by)"))
		}
		if gf.Filename == "" {
			af.Problems = append(af.Problems, errors.New("Filename is required (the helper's Python file)"))
		}
		af.Helper = &pyrules.Helper{Name: gf.GlobalID}
	case typeDataModel:
		af.Problems = checkKeys(root, modelKeys, "")
		var mf modelFile
		if err := root.Decode(&mf); err != nil {
			af.Problems = append(af.Problems, decodeErrors(err)...)
		}
		if mf.DataModelID == "" {
			af.Problems = append(af.Problems, errors.New("DataModelID is required"))
		}
		if len(mf.LogTypes) == 0 {
			af.Problems = append(af.Problems, errors.New("LogTypes is required and may not be empty"))
		}
		m := &pyrules.Model{ID: mf.DataModelID, LogTypes: mf.LogTypes}
		for i, mp := range mf.Mappings {
			if mp.Name == "" || (mp.Path == "") == (mp.Method == "") {
				af.Problems = append(af.Problems, fmt.Errorf("Mappings[%d]: want a Name and exactly one of Path or Method", i))
			}
			if mp.Method != "" && mf.Filename == "" {
				af.Problems = append(af.Problems, fmt.Errorf("Mappings[%d]: Method %s needs the data model's Filename", i, mp.Method))
			}
			m.Mappings = append(m.Mappings, pyrules.Mapping{Name: mp.Name, Path: mp.Path, Method: mp.Method})
		}
		if mf.Enabled == nil || *mf.Enabled {
			af.Model = m
		}
	}
	return af
}

func parseRule(root *yaml.Node) (*Rule, []error) {
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
		return nil, append(errs, decodeErrors(err)...)
	}
	r, rerrs := rf.rule()
	return r, append(errs, rerrs...)
}

func (rf *ruleFile) rule() (*Rule, []error) {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if strings.TrimSpace(rf.RuleID) == "" {
		bad("RuleID is required")
	}
	if rf.Filename == "" {
		bad("Filename is required (the rule's Python file)")
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
		ID:                rf.RuleID,
		DisplayName:       rf.DisplayName,
		AlertTitle:        rf.AlertTitle,
		Enabled:           true,
		CreateAlert:       true,
		LogTypes:          rf.LogTypes,
		Severity:          sev,
		DedupPeriod:       defaultDedupMinutes * time.Minute,
		Threshold:         defaultThreshold,
		OutputIDs:         rf.OutputIds,
		Runbook:           rf.Runbook,
		Reference:         rf.Reference,
		Description:       rf.Description,
		Tags:              rf.Tags,
		Reports:           rf.Reports,
		SummaryAttributes: rf.SummaryAttributes,
		Status:            rf.Status,
	}
	if rf.Enabled != nil {
		r.Enabled = *rf.Enabled
	}
	if rf.CreateAlert != nil {
		r.CreateAlert = *rf.CreateAlert
	}
	if rf.InlineFilters.Kind != 0 {
		f, err := nodeValue(&rf.InlineFilters)
		if err != nil {
			bad("InlineFilters: %v", err)
		}
		r.InlineFilters = f
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
		LogType:       tf.LogType,
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
	for i, m := range tf.Mocks {
		if m.ObjectName == "" {
			errs = append(errs, fmt.Errorf("Mocks[%d]: objectName is required", i))
			continue
		}
		var v any
		if m.ReturnValue.Kind != 0 {
			var err error
			if v, err = nodeValue(&m.ReturnValue); err != nil {
				errs = append(errs, fmt.Errorf("Mocks[%d].returnValue: %w", i, err))
			}
		}
		t.Mocks = append(t.Mocks, pyrules.Mock{ObjectName: m.ObjectName, ReturnValue: v})
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
			msg := fmt.Sprintf("line %d: unknown key %q%s", k.Line, k.Value, at)
			if s := closest(k.Value, known); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			errs = append(errs, errors.New(msg))
		}
	}
	return errs
}

// closest is the known key a misspelling most likely meant, or "".
func closest(s string, known []string) string {
	lower := make([]string, len(known))
	for i, k := range known {
		lower[i] = strings.ToLower(k)
	}
	if l := suggest.Closest(strings.ToLower(s), lower); l != "" {
		for i := range lower {
			if lower[i] == l {
				return known[i]
			}
		}
	}
	return ""
}

func mappingValue(n *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}
