package detect

import (
	"bytes"
	"context"
	"path/filepath"
	"runtime"
	"testing"
)

// rulesDir is the shipped rule pack, found from this file so the test runs
// from any working directory.
func rulesDir(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the test file")
	}
	return filepath.Join(filepath.Dir(file), "..", "rules")
}

func TestShippedRulesPassTheirTests(t *testing.T) {
	var out bytes.Buffer
	failed, err := RunTests(context.Background(), &out, rulesDir(t))
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if failed != 0 {
		t.Fatalf("%d rule tests failed", failed)
	}
}
