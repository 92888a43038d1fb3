package config

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// decoder walks the YAML tree. It never stops at a problem: it records it,
// substitutes a default and carries on, so that one run reports them all.
type decoder struct {
	env   Env
	probs Problems
	// budget bounds the nodes free-form values may expand to, since aliases
	// let a small file describe an enormous tree.
	budget int
}

const maxPlainNodes = 100000

func (d *decoder) add(path string, n *yaml.Node, format string, args ...any) {
	p := Problem{Path: path, Message: fmt.Sprintf(format, args...)}
	if n != nil {
		p.Line = n.Line
	}
	d.probs = append(d.probs, p)
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

// resolve follows aliases and turns null into nil, so callers see "absent"
// for both a missing key and an empty one.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n != nil && n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return nil
	}
	return n
}

// describe names a node's type for "want X, got Y" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	switch n.ShortTag() {
	case "!!int", "!!float":
		return "a number"
	case "!!bool":
		return "a boolean"
	case "!!str":
		return "a string"
	case "!!timestamp":
		return "a date"
	}
	return "a value tagged " + n.Tag
}

// field is one key of a mapping and its value (nil when null).
type field struct {
	key     string
	path    string
	keyNode *yaml.Node
	value   *yaml.Node
}

// fields lists a mapping's keys in file order, applying merge keys ("<<")
// and reporting duplicates.
func (d *decoder) fields(path string, n *yaml.Node) []field {
	n = resolve(n)
	if n == nil {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		d.add(path, n, "want a mapping, got %s", describe(n))
		return nil
	}
	var out []field
	seen := map[string]*yaml.Node{}
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.ShortTag() == "!!merge" {
			merges = append(merges, v)
			continue
		}
		name, ok := d.keyName(path, k)
		if !ok {
			continue
		}
		p := join(path, name)
		if first, dup := seen[name]; dup {
			d.add(p, k, "duplicate key (first at line %d)", first.Line)
			continue
		}
		seen[name] = k
		out = append(out, field{key: name, path: p, keyNode: k, value: resolve(v)})
	}
	for _, m := range merges {
		out = d.merge(path, m, out, seen)
	}
	return out
}

// merge adds the keys of a "<<" value that the mapping does not set itself.
// In a list of mappings the earlier one wins, as YAML's merge key specifies.
func (d *decoder) merge(path string, m *yaml.Node, out []field, seen map[string]*yaml.Node) []field {
	m = resolve(m)
	var sources []*yaml.Node
	switch {
	case m != nil && m.Kind == yaml.MappingNode:
		sources = []*yaml.Node{m}
	case m != nil && m.Kind == yaml.SequenceNode:
		sources = m.Content
	default:
		d.add(join(path, "<<"), m, "a merge key wants a mapping or a list of mappings")
		return out
	}
	for _, s := range sources {
		for _, f := range d.fields(path, s) {
			if _, dup := seen[f.key]; !dup {
				seen[f.key] = f.keyNode
				out = append(out, f)
			}
		}
	}
	return out
}

func (d *decoder) keyName(path string, k *yaml.Node) (string, bool) {
	k = resolve(k)
	if k == nil || k.Kind != yaml.ScalarNode || k.Value == "" {
		d.add(path, k, "keys must be non-empty strings")
		return "", false
	}
	return k.Value, true
}

// block is a mapping with a fixed set of keys. Each key a parser asks for is
// known; whatever is left when done is called is an unknown key.
type block struct {
	d       *decoder
	path    string
	node    *yaml.Node // nil when the mapping is absent
	fields  []field
	asked   map[string]bool
	secrets map[string]bool // bases of *_env / *_file pairs asked for
}

func (d *decoder) block(path string, n *yaml.Node) *block {
	return &block{
		d:       d,
		path:    path,
		node:    resolve(n),
		fields:  d.fields(path, n),
		asked:   map[string]bool{},
		secrets: map[string]bool{},
	}
}

// get returns the value of key (nil when absent or null) and its path.
func (b *block) get(key string) (*yaml.Node, string) {
	b.asked[key] = true
	for _, f := range b.fields {
		if f.key == key {
			return f.value, f.path
		}
	}
	return nil, join(b.path, key)
}

// problem reports at key, pointing at the key's value or, when the key is
// absent, at the mapping that lacks it.
func (b *block) problem(key string, format string, args ...any) {
	n, path := b.get(key)
	if n == nil {
		n = b.node
	}
	b.d.add(path, n, format, args...)
}

// done reports every key nobody asked for.
func (b *block) done() {
	for _, f := range b.fields {
		if b.asked[f.key] {
			continue
		}
		b.d.add(f.path, f.keyNode, "unknown key%s", b.hint(f.key))
	}
}

func (b *block) hint(key string) string {
	if b.secrets[key] {
		return fmt.Sprintf(": secrets are read only from %s_env or %s_file", key, key)
	}
	known := make([]string, 0, len(b.asked))
	for k := range b.asked {
		known = append(known, k)
	}
	sort.Strings(known)
	best, bestDist := "", 3 // suggest only near misses
	for _, k := range known {
		if dist := editDistance(key, k); dist < bestDist {
			best, bestDist = k, dist
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %s?)", best)
}

// editDistance is the Levenshtein distance, for "did you mean" hints.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func (b *block) sub(key string) *block {
	n, path := b.get(key)
	return b.d.block(path, n)
}

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
	v, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64)
	if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
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
	d.budget--
	if d.budget < 0 {
		if d.budget == -1 {
			d.add(path, n, "value is too large (more than %d nodes, counting aliases)", maxPlainNodes)
		}
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
		if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
			d.add(path, n, "want a finite number, got %s", n.Value)
			return nil
		}
		return v
	}
	s, _ := d.text(path, n)
	return s
}
