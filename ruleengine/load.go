package ruleengine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/alertbridge/alertbridge/pyrules"
)

// Options say how rules run. The zero value runs them on python3 from PATH
// with pyrules' defaults.
type Options struct {
	Pool pyrules.Config
}

// LoadDir loads the rules under dirs with the default Options; see Load.
func LoadDir(dirs ...string) (*RuleSet, error) {
	return Load(context.Background(), Options{}, dirs...)
}

// Load loads every analysis file under the given directories, recursively:
// each *.yml or *.yaml is a Panther analysis file, and its AnalysisType says
// what it is: a rule, a global helper (importable by its GlobalID) or a data
// model. Other types are skipped, with a note in RuleSet.Notes. A path that
// is a single YAML file loads just that file. Every problem in every file is
// reported in the one error returned, each naming its file, so an author
// sees all of them at once; the rule set is nil then.
func Load(ctx context.Context, opts Options, dirs ...string) (*RuleSet, error) {
	c, err := collect(dirs)
	if err != nil {
		return nil, err
	}
	rs, err := c.start(ctx, opts)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, p := range c.problems {
		errs = append(errs, p)
	}
	for _, r := range c.rules {
		for _, p := range c.ruleProblems[r] {
			errs = append(errs, fmt.Errorf("load rule %s: %s", r.Path, p))
		}
	}
	if len(errs) > 0 {
		rs.Close()
		return nil, errors.Join(errs...)
	}
	return rs, nil
}

// collection is every analysis file read, before any Python runs.
type collection struct {
	dirs         []string
	rules        []*Rule
	ruleProblems map[*Rule][]string
	helpers      []pyrules.Helper
	helperFiles  []string
	models       []pyrules.Model
	modelFiles   []string
	problems     []error // of files that are not a rule we could read
	notes        []string
}

func collect(dirs []string) (*collection, error) {
	if len(dirs) == 0 {
		return nil, errors.New("load rules: no directories given")
	}
	files, errs := findAnalysisFiles(dirs)
	c := &collection{dirs: dirs, ruleProblems: map[*Rule][]string{}, problems: errs}
	byID := map[string]string{}
	helperIDs := map[string]string{}
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			c.problems = append(c.problems, fmt.Errorf("load %s: %w", path, err))
			continue
		}
		af := parseAnalysis(data)
		src := ""
		if af.Filename != "" {
			src = af.Filename
			if !filepath.IsAbs(src) {
				src = filepath.Join(filepath.Dir(path), src)
			}
			// Workers run elsewhere ("/"), so they are given absolute paths.
			if abs, err := filepath.Abs(src); err == nil {
				src = abs
			}
			if _, err := os.Stat(src); err != nil {
				af.Problems = append(af.Problems, fmt.Errorf("Filename %s: %w", af.Filename, err))
			}
		}
		switch af.Type {
		case typeRule:
			r := af.Rule
			if r == nil {
				for _, p := range af.Problems {
					c.problems = append(c.problems, fmt.Errorf("load rule %s: %w", path, p))
				}
				continue
			}
			r.Path, r.Source = path, src
			r.Version = version(data, src)
			var problems []string
			for _, p := range af.Problems {
				problems = append(problems, p.Error())
			}
			if other, dup := byID[r.ID]; dup && r.ID != "" {
				problems = append(problems, fmt.Sprintf("RuleID %q is already used by %s", r.ID, other))
				r = &Rule{ID: r.ID + " (" + path + ")", Path: path, Source: src, Tests: r.Tests, LogTypes: r.LogTypes}
			} else {
				byID[r.ID] = path
			}
			c.rules = append(c.rules, r)
			if len(problems) > 0 {
				c.ruleProblems[r] = problems
			}
		case typeGlobal, typeDataModel:
			if len(af.Problems) > 0 {
				for _, p := range af.Problems {
					c.problems = append(c.problems, fmt.Errorf("load %s %s: %w", af.Type, path, p))
				}
				continue
			}
			if af.Helper != nil {
				if other, dup := helperIDs[af.Helper.Name]; dup {
					c.problems = append(c.problems, fmt.Errorf("load global %s: GlobalID %q is already used by %s", path, af.Helper.Name, other))
					continue
				}
				helperIDs[af.Helper.Name] = path
				af.Helper.Path = src
				c.helpers = append(c.helpers, *af.Helper)
				c.helperFiles = append(c.helperFiles, path)
			} else if af.Model != nil {
				af.Model.Path = src
				c.models = append(c.models, *af.Model)
				c.modelFiles = append(c.modelFiles, path)
			} else {
				c.notes = append(c.notes, fmt.Sprintf("%s: data model disabled (Enabled: false)", path))
			}
		case "":
			if len(af.Problems) > 0 {
				for _, p := range af.Problems {
					c.problems = append(c.problems, fmt.Errorf("load %s: %w", path, p))
				}
				continue
			}
			c.notes = append(c.notes, fmt.Sprintf("%s: skipped, no AnalysisType (not a Panther analysis file)", path))
		default:
			c.notes = append(c.notes, fmt.Sprintf("%s: skipped, AnalysisType %s (alertbridge runs rules, global helpers and data models)", path, af.Type))
		}
	}
	return c, nil
}

// start loads the collection's Python into a worker pool and builds the
// rule set. Rules whose metadata had problems are not loaded; Python load
// failures join ruleProblems.
func (c *collection) start(ctx context.Context, opts Options) (*RuleSet, error) {
	spec := pyrules.Spec{Helpers: c.helpers, Models: c.models}
	var loadable []*Rule
	for _, r := range c.rules {
		if len(c.ruleProblems[r]) > 0 {
			continue
		}
		r.idx = len(spec.Rules)
		loadable = append(loadable, r)
		lts := r.LogTypes
		if !r.Enabled {
			lts = nil // loaded for its tests, never evaluated
		}
		spec.Rules = append(spec.Rules, pyrules.Rule{ID: r.ID, Path: r.Source, LogTypes: lts, Filters: r.InlineFilters})
	}
	rs := &RuleSet{notes: c.notes}
	if len(spec.Rules) == 0 && len(spec.Models) == 0 && len(spec.Helpers) == 0 {
		rs.index(nil)
		return rs, nil
	}
	pool, err := pyrules.Start(ctx, opts.Pool, spec)
	if err != nil {
		return nil, fmt.Errorf("load rules: %w", err)
	}
	rep := pool.Report()
	for i, h := range rep.Helpers {
		if h.Error != "" {
			// Only a problem for the rules that import it, which fail
			// with the same error.
			c.notes = append(c.notes, fmt.Sprintf("%s: global %s does not import: %s", c.helperFiles[i], spec.Helpers[i].Name, firstLine(h.Error)))
		}
	}
	for i, m := range rep.Models {
		if m.Error != "" {
			c.problems = append(c.problems, fmt.Errorf("load datamodel %s: %s", c.modelFiles[i], m.Error))
		}
	}
	var loaded []*Rule
	for _, r := range loadable {
		l := rep.Rules[r.idx]
		if l.Error != "" {
			c.ruleProblems[r] = append(c.ruleProblems[r], l.Error+hint(l.Error))
			continue
		}
		r.Funcs = l.Funcs
		loaded = append(loaded, r)
	}
	rs.notes = c.notes
	rs.pool = pool
	rs.index(loaded)
	return rs, nil
}

// hint adds what a Panther user needs to know to a load error we can
// recognise.
func hint(err string) string {
	if strings.Contains(err, "ModuleNotFoundError: No module named 'panther_") {
		return " (global helpers are imported by their GlobalID: add the directory holding them, a panther-analysis checkout's global_helpers/, to the paths)"
	}
	if strings.Contains(err, "SyntaxError") {
		return " (rules run on CPython 3 as it is installed; check the syntax against that version)"
	}
	return ""
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

func isAnalysisFile(name string) bool {
	ext := strings.ToLower(filepath.Ext(name))
	return ext == ".yml" || ext == ".yaml"
}

func findAnalysisFiles(dirs []string) ([]string, []error) {
	var files []string
	var errs []error
	seen := map[string]bool{}
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			files = append(files, p)
		}
	}
	for _, dir := range dirs {
		fi, err := os.Stat(dir)
		if err != nil {
			errs = append(errs, fmt.Errorf("load rules: %w", err))
			continue
		}
		if !fi.IsDir() {
			if isAnalysisFile(dir) {
				add(filepath.Clean(dir))
			} else {
				errs = append(errs, fmt.Errorf("load rules: %s is neither a directory nor a .yml/.yaml analysis file", dir))
			}
			continue
		}
		err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				errs = append(errs, fmt.Errorf("load rules: %w", err))
				return nil
			}
			// Hidden directories hold editor and VCS files, never rules.
			if d.IsDir() && p != dir && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			if !d.IsDir() && isAnalysisFile(d.Name()) {
				add(p)
			}
			return nil
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("load rules from %s: %w", dir, err))
		}
	}
	sort.Strings(files)
	return files, errs
}

// version hashes a rule's YAML and its code, so an alert says which
// revision of a rule raised it.
func version(meta []byte, src string) string {
	h := sha256.New()
	h.Write(meta)
	if code, err := os.ReadFile(src); err == nil {
		h.Write([]byte{0})
		h.Write(code)
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}
