package detect

import (
	"context"
	"errors"
	"fmt"
	"os"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// Function names a rule module may define, Panther's names.
const (
	fnRule         = "rule"
	fnTitle        = "title"
	fnSeverity     = "severity"
	fnDestinations = "destinations"
	fnAlertContext = "alert_context"
	fnDedup        = "dedup"
	fnRunbook      = "runbook"
	fnDescription  = "description"
)

var optionalFuncs = []string{fnTitle, fnSeverity, fnDestinations, fnAlertContext, fnDedup, fnRunbook, fnDescription}

// fileOptions lets rule authors write the Python they know: while loops,
// sets, recursion and top-level statements. The step and time limits, not
// the dialect, are what keep a rule from running away.
var fileOptions = &syntax.FileOptions{
	Set:             true,
	While:           true,
	TopLevelControl: true,
	GlobalReassign:  true,
	Recursion:       true,
}

// module is a rule's compiled, initialised and frozen Starlark code. Frozen
// globals are what make one module safe to run from many goroutines.
type module struct {
	funcs map[string]*starlark.Function
}

func (m *module) fn(name string) *starlark.Function { return m.funcs[name] }

// compileModule compiles and runs a rule's top level once. Module-level code
// runs under the same limits as a rule call, so a rule file cannot hang the
// loader either.
func compileModule(path string, lim Limits) (*module, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	// Syntax and resolve errors already carry path:line:col.
	_, prog, err := starlark.SourceProgramOptions(fileOptions, path, src, predeclared.Has)
	if err != nil {
		return nil, err
	}
	var globals starlark.StringDict
	err = boundedCall(context.Background(), lim, nil, func(th *starlark.Thread) error {
		var err error
		globals, err = prog.Init(th, predeclared)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%s: run module: %w", path, err)
	}
	globals.Freeze()

	m := &module{funcs: map[string]*starlark.Function{}}
	var errs []error
	for _, name := range append([]string{fnRule}, optionalFuncs...) {
		v, ok := globals[name]
		if !ok {
			if name == fnRule {
				errs = append(errs, errors.New("no rule(event) function defined"))
			}
			continue
		}
		f, ok := v.(*starlark.Function)
		if !ok {
			errs = append(errs, fmt.Errorf("%s is a %s, want a function", name, v.Type()))
			continue
		}
		if err := checkArity(f); err != nil {
			errs = append(errs, err)
			continue
		}
		m.funcs[name] = f
	}
	if len(errs) > 0 {
		for i, err := range errs {
			errs[i] = fmt.Errorf("%s: %w", path, err)
		}
		return nil, errors.Join(errs...)
	}
	return m, nil
}

// checkArity insists that fn(event) is a valid call, Panther's signature, so
// a mistake shows at load time rather than as a rule error on the first live
// event.
func checkArity(f *starlark.Function) error {
	extras := 0
	if f.HasVarargs() {
		extras++
	}
	if f.HasKwargs() {
		extras++
	}
	// Parameters are laid out positional, keyword-only, *args, **kwargs.
	positional := f.NumParams() - f.NumKwonlyParams() - extras
	required := 0
	for i := range f.NumParams() - extras {
		if f.ParamDefault(i) == nil {
			if i >= positional {
				return fmt.Errorf("%s must take one argument (event), not require keyword arguments", f.Name())
			}
			required++
		}
	}
	if required > 1 || (positional < 1 && !f.HasVarargs()) {
		return fmt.Errorf("%s must take one argument (event)", f.Name())
	}
	return nil
}
