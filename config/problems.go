package config

import (
	"fmt"
	"strings"
)

// Problem is one thing wrong with a configuration.
type Problem struct {
	// Path is the key path, such as "destinations[1].severities[0]";
	// empty for problems with the file as a whole.
	Path    string
	Message string
	// Line is the 1-based line in the file the problem was found at, or 0
	// when it is not known.
	Line int

	err error // the underlying error, when there is one
}

func (p Problem) Error() string {
	var b strings.Builder
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	if p.Line > 0 {
		fmt.Fprintf(&b, " (line %d)", p.Line)
	}
	return b.String()
}

// Problems is every problem found in a configuration, in file order. Load
// and Parse return it as a *Problems.
type Problems []Problem

// Error renders one problem per line.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap exposes underlying errors, so that errors.Is(err, fs.ErrNotExist)
// works on a config file that is missing.
func (ps Problems) Unwrap() []error {
	var errs []error
	for _, p := range ps {
		if p.err != nil {
			errs = append(errs, p.err)
		}
	}
	return errs
}
