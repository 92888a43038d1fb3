package ruleengine

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// LoadDir loads every rule under the given directories, recursively: each
// *.yml or *.yaml file is a rule whose Filename names its Starlark code,
// relative to the YAML. A path that is a single rule file loads just that
// rule. Every problem in every file is reported in the one error returned,
// each naming its file, so an author sees all of them at once.
func LoadDir(dirs ...string) (*RuleSet, error) {
	if len(dirs) == 0 {
		return nil, errors.New("load rules: no directories given")
	}
	files, errs := findRuleFiles(dirs)
	l := newLoader()

	var rules []*Rule
	byID := map[string]string{}
	for _, path := range files {
		r, problems := l.loadRule(path)
		for _, p := range problems {
			errs = append(errs, fmt.Errorf("load rule %s: %w", path, p))
		}
		if r == nil || r.ID == "" {
			continue
		}
		if other, dup := byID[r.ID]; dup {
			errs = append(errs, fmt.Errorf("load rule %s: RuleID %q is already used by %s", path, r.ID, other))
			continue
		}
		byID[r.ID] = path
		if len(problems) == 0 {
			rules = append(rules, r)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return newRuleSet(rules), nil
}

func isRuleFile(name string) bool {
	ext := strings.ToLower(filepath.Ext(name))
	return ext == ".yml" || ext == ".yaml"
}

func findRuleFiles(dirs []string) ([]string, []error) {
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
			if isRuleFile(dir) {
				add(filepath.Clean(dir))
			} else {
				errs = append(errs, fmt.Errorf("load rules: %s is neither a directory nor a .yml/.yaml rule file", dir))
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
			if !d.IsDir() && isRuleFile(d.Name()) {
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

// loadRule reads one rule. It goes on past metadata problems to compile the
// code too, so both kinds of mistake show in one run. The rule is returned
// (for duplicate-ID checks) whenever its metadata could be read.
func (l *loader) loadRule(path string) (*Rule, []error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, []error{err}
	}
	r, filename, problems := parseMeta(data)
	if filename == "" {
		return r, problems
	}
	src := filename
	if !filepath.IsAbs(src) {
		src = filepath.Join(filepath.Dir(path), filename)
	}
	mod, err := l.compileModule(src)
	if err != nil {
		problems = append(problems, err)
	}
	if r == nil {
		return nil, problems
	}
	r.Path, r.Source, r.mod = path, filepath.Clean(src), mod
	r.Version = l.version(data, r.Source)
	return r, problems
}

// version hashes a rule's YAML, its code and every file the code loads, so
// editing a shared helper changes the version of each rule that uses it.
func (l *loader) version(meta []byte, src string) string {
	h := sha256.New()
	h.Write(meta)
	if f := l.files[src]; f != nil {
		h.Write([]byte{0})
		h.Write(f.src)
		for _, dep := range f.deps {
			if d := l.files[dep]; d != nil {
				h.Write([]byte{0})
				h.Write(d.src)
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}
