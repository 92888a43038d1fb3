package ruleengine

import (
	"os"
	"path/filepath"
	"testing"
)

// writeRule writes a rule's YAML and Python into dir.
func writeRule(tb testing.TB, dir, name, yml, py string) {
	tb.Helper()
	if err := os.WriteFile(filepath.Join(dir, name+".yml"), []byte(yml), 0o644); err != nil {
		tb.Fatal(err)
	}
	if py != "" {
		if err := os.WriteFile(filepath.Join(dir, name+".py"), []byte(py), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
}

// loadTemp loads dir and closes the set with the test.
func loadTemp(tb testing.TB, dirs ...string) *RuleSet {
	tb.Helper()
	rs, err := LoadDir(dirs...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { rs.Close() })
	return rs
}
