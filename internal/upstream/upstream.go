// Package upstream finds the shared reference data (Atlassian's OpenAPI
// specs, the ADF schema, captured payloads) that tests read in place. The data
// lives beside the repository, never inside it.
package upstream

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// EnvVar overrides where the reference data is looked for.
const EnvVar = "ALERTBRIDGE_UPSTREAM"

// Dir returns the upstream directory, or ends the test: with CI=true a missing
// directory fails the test, elsewhere it skips it.
func Dir(tb testing.TB) string {
	tb.Helper()
	if d, ok := Find(); ok {
		return d
	}
	if os.Getenv("CI") == "true" {
		tb.Fatalf("upstream reference data not found: set %s or check out ../shared beside the repository", EnvVar)
	}
	tb.Skipf("upstream reference data not found (set %s)", EnvVar)
	return ""
}

// Path returns a file under the upstream directory, ending the test as Dir does.
func Path(tb testing.TB, elem ...string) string {
	tb.Helper()
	p := filepath.Join(append([]string{Dir(tb)}, elem...)...)
	if _, err := os.Stat(p); err != nil {
		tb.Fatalf("upstream file: %v", err)
	}
	return p
}

// Find looks for the directory without a test.
func Find() (string, bool) {
	if d := os.Getenv(EnvVar); d != "" {
		return d, isDir(d)
	}
	// This file is internal/upstream/upstream.go; the repository root is two
	// levels up, and the shared data sits beside the repository.
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", false
	}
	root := filepath.Join(filepath.Dir(file), "..", "..")
	d := filepath.Join(root, "..", "shared", "upstream")
	return d, isDir(d)
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}
