package ruleengine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

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

// loader executes Starlark files once each, for rules and for the helper
// files they load(). Sharing one loader across a LoadDir means a helper used
// by every rule is compiled once, and a load cycle is caught.
type loader struct {
	files map[string]*loaded
}

type loaded struct {
	globals starlark.StringDict
	src     []byte
	deps    []string // files it loaded, transitively
	err     error
	busy    bool // being executed: seeing it again means a cycle
}

func newLoader() *loader { return &loader{files: map[string]*loaded{}} }

// exec runs a file's top level, or returns the cached result. load()
// statements resolve relative to the loading file's directory. Top-level
// code runs under the default limits, so a rule file cannot hang the loader.
func (l *loader) exec(path string) *loaded {
	path = filepath.Clean(path)
	if f, ok := l.files[path]; ok {
		if f.busy {
			return &loaded{err: fmt.Errorf("%s: load cycle", path)}
		}
		return f
	}
	f := &loaded{busy: true}
	l.files[path] = f
	defer func() { f.busy = false }()

	f.src, f.err = os.ReadFile(path)
	if f.err != nil {
		return f
	}
	// Syntax and resolve errors already carry path:line:col.
	_, prog, err := starlark.SourceProgramOptions(fileOptions, path, f.src, predeclared.Has)
	if err != nil {
		f.err = err
		return f
	}
	err = boundedCall(context.Background(), Limits{}, nil, func(th *starlark.Thread) error {
		th.Load = func(_ *starlark.Thread, name string) (starlark.StringDict, error) {
			dep := name
			if !filepath.IsAbs(dep) {
				dep = filepath.Join(filepath.Dir(path), name)
			}
			d := l.exec(dep)
			if d.err != nil {
				return nil, d.err
			}
			f.deps = append(append(f.deps, filepath.Clean(dep)), d.deps...)
			return d.globals, nil
		}
		var err error
		f.globals, err = prog.Init(th, predeclared)
		return err
	})
	if err != nil {
		f.err = fmt.Errorf("%s: run module: %w", path, err)
		return f
	}
	f.globals.Freeze()
	return f
}

// compileModule loads a rule's code and checks it defines rule(event) and
// that whatever optional functions it defines take one argument.
func (l *loader) compileModule(path string) (*module, error) {
	f := l.exec(path)
	if f.err != nil {
		return nil, f.err
	}
	m := &module{funcs: map[string]*starlark.Function{}}
	var errs []error
	for _, name := range append([]string{fnRule}, optionalFuncs...) {
		v, ok := f.globals[name]
		if !ok {
			if name == fnRule {
				errs = append(errs, fmt.Errorf("%s: no rule(event) function defined", path))
			}
			continue
		}
		fn, ok := v.(*starlark.Function)
		if !ok {
			errs = append(errs, fmt.Errorf("%s: %s is a %s, want a function", path, name, v.Type()))
			continue
		}
		if err := checkArity(fn); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", path, err))
			continue
		}
		m.funcs[name] = fn
	}
	if len(errs) > 0 {
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
