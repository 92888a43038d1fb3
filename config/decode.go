package config

import (
	"fmt"
	"sort"

	"go.yaml.in/yaml/v3"

	"github.com/alertbridge/alertbridge/internal/suggest"
)

// decoder walks the YAML tree. It never stops at a problem: it records it,
// substitutes a default and carries on, so that one run reports them all.
type decoder struct {
	env   Env
	probs Problems
	// warnings are risks found while decoding, for Config.Warnings.
	warnings Problems
	// budget bounds how far aliases are expanded in free-form values and
	// merge keys, since aliases let a small file describe an enormous tree.
	budget int
	// asked, when set, hears the path of every key a parser asks for, so a
	// test can hold the configuration reference to the keys the code reads.
	asked func(path string)
}

const maxExpansion = 100000

// spend counts one expanded node against the budget, reporting only the
// first time it runs out.
func (d *decoder) spend(path string, n *yaml.Node) bool {
	d.budget--
	if d.budget == -1 {
		d.add(path, n, "value is too large (more than %d nodes, counting aliases)", maxExpansion)
	}
	return d.budget >= 0
}

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
		if !d.spend(path, s) {
			return out
		}
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
	if b.d.asked != nil {
		b.d.asked(join(b.path, key))
	}
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
	best := suggest.Closest(key, known)
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %s?)", best)
}

func (b *block) sub(key string) *block {
	n, path := b.get(key)
	return b.d.block(path, n)
}
