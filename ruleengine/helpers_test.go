package ruleengine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeFiles creates files (name → content) under a new temp directory.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// ruleYAML is minimal valid metadata for rule id with code in id.py, plus
// any extra YAML lines.
func ruleYAML(id string, extra ...string) string {
	return fmt.Sprintf("AnalysisType: rule\nRuleID: %s\nFilename: %s.py\nLogTypes: [Test.Log]\nSeverity: Medium\n%s\n",
		id, id, strings.Join(extra, "\n"))
}

// loadOne loads a single rule from its code (and optional extra metadata)
// and returns the set.
func loadOne(t *testing.T, code string, extra ...string) *RuleSet {
	t.Helper()
	dir := writeFiles(t, map[string]string{"r.yml": ruleYAML("r", extra...), "r.py": code})
	rs, err := LoadDir(dir)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return rs
}

func eval(t *testing.T, rs *RuleSet, data map[string]any) ([]Match, []RuleError) {
	t.Helper()
	return rs.Evaluate(context.Background(), Event{LogType: "Test.Log", Data: data, ID: "ev-1"})
}
