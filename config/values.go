package config

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// text reads a scalar as a string. Numbers are accepted as written, since
// IDs and project keys may look like numbers; booleans are not, because an
// unquoted yes/no is more likely a mistake than a name.
func (d *decoder) text(path string, n *yaml.Node) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.add(path, n, "want a string, got %s", describe(n))
		return "", false
	}
	switch n.ShortTag() {
	case "!!str", "!!int", "!!float", "!!timestamp":
		return n.Value, true
	case "!!bool":
		d.add(path, n, "want a string, got a boolean (quote it to mean the text)")
	default:
		d.add(path, n, "want a string, got %s (tags are not interpreted)", describe(n))
	}
	return "", false
}

// lookup returns key's text. missing is true when the key is absent, null
// or empty, and false when its value is of the wrong type, which is already
// reported and must not be reported again as missing.
func (b *block) lookup(key string) (s string, missing bool) {
	n, path := b.get(key)
	if n == nil {
		return "", true
	}
	s, ok := b.d.text(path, n)
	return s, ok && s == ""
}

// str returns key's text, or def when it is absent, empty or wrong.
func (b *block) str(key, def string) string {
	if s, _ := b.lookup(key); s != "" {
		return s
	}
	return def
}

// required returns key's text, reporting when it is absent or empty.
func (b *block) required(key string) string {
	s, missing := b.lookup(key)
	if missing {
		b.problem(key, "required")
	}
	return s
}

// choice returns one of allowed, matched case-insensitively. An empty def
// makes the key required.
func (b *block) choice(key, what, def string, allowed ...string) string {
	s, missing := b.lookup(key)
	if s == "" {
		if missing && def == "" {
			b.problem(key, "required (one of %s)", strings.Join(allowed, ", "))
		}
		return def
	}
	for _, a := range allowed {
		if strings.EqualFold(s, a) {
			return a
		}
	}
	b.problem(key, "unknown %s %q (want one of %s)", what, s, strings.Join(allowed, ", "))
	return def
}

func (b *block) boolean(key string, def bool) bool {
	n, path := b.get(key)
	if n == nil {
		return def
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!bool" {
		if v, err := strconv.ParseBool(n.Value); err == nil {
			return v
		}
	}
	b.d.add(path, n, "want true or false, got %s", describe(n))
	return def
}

// integer returns key's whole number, which must be at least lo.
func (b *block) integer(key string, def, lo int) int {
	n, path := b.get(key)
	if n == nil {
		return def
	}
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
		b.d.add(path, n, "want a whole number, got %s", describe(n))
		return def
	}
	v, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 64)
	if err != nil || v > math.MaxInt32 {
		b.d.add(path, n, "number %s is out of range", n.Value)
		return def
	}
	if int(v) < lo {
		b.d.add(path, n, "must be at least %d", lo)
		return def
	}
	return int(v)
}

// positive returns key's number, which must be finite and above zero.
func (b *block) positive(key string, def float64) float64 {
	n, path := b.get(key)
	if n == nil {
		return def
	}
	tag := n.ShortTag()
	if n.Kind != yaml.ScalarNode || (tag != "!!int" && tag != "!!float") {
		b.d.add(path, n, "want a number, got %s", describe(n))
		return def
	}
	// ParseFloat refuses YAML's .inf and .nan, and overflow, so what it
	// accepts is finite.
	v, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64)
	if err != nil {
		b.d.add(path, n, "want a finite number, got %s", n.Value)
		return def
	}
	if v <= 0 {
		b.d.add(path, n, "must be greater than 0")
		return def
	}
	return v
}

// duration returns key's Go duration, which must be positive, at least lo,
// and, when hi is not zero, at most hi.
func (b *block) duration(key string, def, lo, hi time.Duration) time.Duration {
	n, path := b.get(key)
	if n == nil {
		return def
	}
	if n.Kind == yaml.ScalarNode && (n.ShortTag() == "!!int" || n.ShortTag() == "!!float") {
		b.d.add(path, n, "want a duration with a unit, like \"%ss\"", n.Value)
		return def
	}
	s, ok := b.d.text(path, n)
	if !ok {
		return def
	}
	v, err := time.ParseDuration(s)
	switch {
	case err != nil:
		b.d.add(path, n, "want a duration like \"30s\" or \"24h\", got %q", s)
	case v <= 0:
		b.d.add(path, n, "must be positive")
	case v < lo:
		b.d.add(path, n, "must be at least %s", lo)
	case hi > 0 && v > hi:
		b.d.add(path, n, "must be at most %s", hi)
	default:
		return v
	}
	return def
}

// httpURL returns key's absolute http or https URL without a trailing
// slash, or "" when the key is absent or wrong.
func (b *block) httpURL(key string, required bool) string {
	s, missing := b.lookup(key)
	if s == "" {
		if missing && required {
			b.problem(key, "required")
		}
		return ""
	}
	if err := checkHTTPURL(s); err != nil {
		b.problem(key, "%v", err)
		return ""
	}
	return strings.TrimRight(s, "/")
}

// checkHTTPURL explains what is wrong with s as an absolute http(s) URL. It
// never repeats s: a URL may carry credentials in its user info or query.
func checkHTTPURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("not a valid URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		msg := "must be an absolute http or https URL"
		if strings.Contains(s, "${") {
			msg += " (${VAR} is never expanded)"
		}
		return errors.New(msg)
	}
	return nil
}

// item is one element of a list.
type item struct {
	node *yaml.Node
	path string
}

// list returns key's elements, and whether the key holds a list at all, so
// that callers can tell an empty list from a default.
func (b *block) list(key string) ([]item, bool) {
	n, path := b.get(key)
	return b.d.list(path, n)
}

func (d *decoder) list(path string, n *yaml.Node) ([]item, bool) {
	if n == nil {
		return nil, false
	}
	if n.Kind != yaml.SequenceNode {
		d.add(path, n, "want a list, got %s", describe(n))
		return nil, false
	}
	items := make([]item, 0, len(n.Content))
	for i, c := range n.Content {
		p := index(path, i)
		c = resolve(c)
		if c == nil {
			d.add(p, n, "empty list item")
			continue
		}
		items = append(items, item{node: c, path: p})
	}
	return items, true
}

// items is list for callers with no default to tell apart.
func (b *block) items(key string) []item {
	items, _ := b.list(key)
	return items
}

// strs returns key's list of non-empty strings.
func (b *block) strs(key string) ([]string, bool) {
	items, ok := b.list(key)
	if !ok {
		return nil, false
	}
	return b.d.texts(items), true
}

func (d *decoder) texts(items []item) []string {
	out := make([]string, 0, len(items))
	for _, it := range items {
		s, ok := d.text(it.path, it.node)
		switch {
		case !ok:
		case s == "":
			d.add(it.path, it.node, "must not be empty")
		default:
			out = append(out, s)
		}
	}
	return out
}

// entries returns the fields of key's mapping, whose keys are data (such as
// severities) rather than names known in advance.
func (b *block) entries(key string) ([]field, bool) {
	n, path := b.get(key)
	if n == nil {
		return nil, false
	}
	return b.d.fields(path, n), true
}

// parseList parses each element with parse, dropping repeats.
func parseList[T comparable](d *decoder, items []item, parse func(string) (T, error)) []T {
	out := make([]T, 0, len(items))
	for _, it := range items {
		s, ok := d.text(it.path, it.node)
		if !ok {
			continue
		}
		v, err := parse(s)
		if err != nil {
			d.add(it.path, it.node, "%v", err)
			continue
		}
		if !contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

func contains[T comparable](list []T, v T) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// plain converts a free-form value to the JSON-compatible data that
// encoding/json would produce, since custom fields are sent to Jira as JSON.
func (d *decoder) plain(path string, n *yaml.Node) any {
	if !d.spend(path, n) {
		return nil
	}
	n = resolve(n)
	if n == nil {
		return nil
	}
	switch n.Kind {
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for i, c := range n.Content {
			out = append(out, d.plain(index(path, i), c))
		}
		return out
	case yaml.MappingNode:
		out := map[string]any{}
		for _, f := range d.fields(path, n) {
			out[f.key] = d.plain(f.path, f.value)
		}
		return out
	}
	return d.plainScalar(path, n)
}

func (d *decoder) plainScalar(path string, n *yaml.Node) any {
	switch n.ShortTag() {
	case "!!bool":
		v, _ := strconv.ParseBool(n.Value)
		return v
	case "!!int":
		if v, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 64); err == nil {
			return v
		}
		d.add(path, n, "number %s is out of range", n.Value)
		return nil
	case "!!float":
		v, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64)
		if err != nil {
			d.add(path, n, "want a finite number, got %s", n.Value)
			return nil
		}
		return v
	}
	s, _ := d.text(path, n)
	return s
}
