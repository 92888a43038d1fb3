package ruleengine

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"go.starlark.net/starlark"
)

// eventDict is a JSON object of an event as rules see it: a read-only dict
// whose values become Starlark values only when a rule reads them. Building
// the whole event as Starlark dicts up front was two fifths of evaluation,
// and most rules read three or four fields before deciding no.
//
// It behaves as a frozen dict for reading: indexing, `in`, len, iteration in
// sorted key order, .get/.keys/.values/.items, and Type "dict". Mutating
// methods are absent, as an event is read-only.
type eventDict struct {
	m     map[string]any
	depth int

	mu    sync.Mutex // rules of one event run in turn; values can escape into contexts
	vals  map[string]starlark.Value
	keys  []string // sorted, on first need
	whole *starlark.Dict
}

var (
	_ starlark.HasSetKey       = (*eventDict)(nil)
	_ starlark.IterableMapping = (*eventDict)(nil)
	_ starlark.Sequence        = (*eventDict)(nil)
	_ starlark.HasAttrs        = (*eventDict)(nil)
)

func newEventDict(m map[string]any, depth int) *eventDict {
	return &eventDict{m: m, depth: depth}
}

func (d *eventDict) Type() string          { return "dict" }
func (d *eventDict) Freeze()               {}
func (d *eventDict) Truth() starlark.Bool  { return len(d.m) > 0 }
func (d *eventDict) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: dict") }
func (d *eventDict) Len() int              { return len(d.m) }

// String renders the dict as Starlark would, which needs every value.
func (d *eventDict) String() string {
	w, err := d.materialize()
	if err != nil {
		return fmt.Sprintf("<dict: %v>", err)
	}
	return w.String()
}

func (d *eventDict) Get(k starlark.Value) (starlark.Value, bool, error) {
	key, ok := k.(starlark.String)
	if !ok {
		if _, err := k.Hash(); err != nil {
			return nil, false, err
		}
		return nil, false, nil // JSON keys are strings: nothing else is found
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.getLocked(string(key))
}

func (d *eventDict) getLocked(key string) (starlark.Value, bool, error) {
	if v, ok := d.vals[key]; ok {
		return v, true, nil
	}
	raw, ok := d.m[key]
	if !ok {
		return nil, false, nil
	}
	var c converter
	v, err := c.convert(raw, d.depth+1)
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", key, err)
	}
	v.Freeze()
	if d.vals == nil {
		d.vals = make(map[string]starlark.Value, len(d.m))
	}
	d.vals[key] = v
	return v, true, nil
}

func (d *eventDict) sortedKeys() []string {
	if d.keys == nil {
		d.keys = make([]string, 0, len(d.m))
		for k := range d.m {
			d.keys = append(d.keys, k)
		}
		slices.Sort(d.keys)
	}
	return d.keys
}

func (d *eventDict) Items() []starlark.Tuple {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]starlark.Tuple, 0, len(d.m))
	for _, k := range d.sortedKeys() {
		v, _, err := d.getLocked(k)
		if err != nil {
			v = starlark.None // validated before any rule ran; cannot happen
		}
		out = append(out, starlark.Tuple{starlark.String(k), v})
	}
	return out
}

func (d *eventDict) Iterate() starlark.Iterator {
	d.mu.Lock()
	keys := d.sortedKeys()
	d.mu.Unlock()
	return &keyIterator{keys: keys}
}

type keyIterator struct {
	keys []string
	i    int
}

func (it *keyIterator) Next(p *starlark.Value) bool {
	if it.i >= len(it.keys) {
		return false
	}
	*p = starlark.String(it.keys[it.i])
	it.i++
	return true
}
func (it *keyIterator) Done() {}

// materialize builds the equivalent frozen dict, for what needs all of it.
func (d *eventDict) materialize() (*starlark.Dict, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.whole != nil {
		return d.whole, nil
	}
	w := starlark.NewDict(len(d.m))
	for _, k := range d.sortedKeys() {
		v, _, err := d.getLocked(k)
		if err != nil {
			return nil, err
		}
		if err := w.SetKey(starlark.String(k), v); err != nil {
			return nil, err
		}
	}
	w.Freeze()
	d.whole = w
	return w, nil
}

var eventDictMethods = []string{"clear", "get", "items", "keys", "pop", "popitem", "setdefault", "update", "values"}

func (d *eventDict) AttrNames() []string { return eventDictMethods }

// SetKey refuses, as a frozen dict does: events are read-only to rules.
func (d *eventDict) SetKey(k, v starlark.Value) error {
	return fmt.Errorf("cannot insert into frozen hash table: events are read-only")
}

// frozenMethod is a dict method that would change the event.
func frozenMethod(name string) *starlark.Builtin {
	return starlark.NewBuiltin(name, func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
		return nil, fmt.Errorf("%s: cannot change frozen hash table: events are read-only", name)
	})
}

// Attr gives the reading methods of a dict, by delegating to the
// materialized dict for the rare whole-dict ones and answering get directly.
func (d *eventDict) Attr(name string) (starlark.Value, error) {
	switch name {
	case "get":
		return starlark.NewBuiltin("get", d.get).BindReceiver(d), nil
	case "items", "keys", "values":
		w, err := d.materialize()
		if err != nil {
			return nil, err
		}
		return w.Attr(name)
	case "clear", "pop", "popitem", "setdefault", "update":
		return frozenMethod(name), nil
	}
	return nil, nil
}

func (d *eventDict) get(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var key, dflt starlark.Value = nil, starlark.None
	if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 1, &key, &dflt); err != nil {
		return nil, err
	}
	v, found, err := d.Get(key)
	if err != nil {
		return nil, err
	}
	if !found {
		return dflt, nil
	}
	return v, nil
}

// checkConvertible walks an event as conversion would, without building
// anything, so that an event no rule could read fails once, up front,
// rather than in whichever rule happens to touch the bad part.
func checkConvertible(v any, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("event nested deeper than %d levels", maxDepth)
	}
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if err := checkConvertible(e, depth+1); err != nil {
				return fmt.Errorf("%s: %w", k, err)
			}
		}
		return nil
	case []any:
		for i, e := range x {
			if err := checkConvertible(e, depth+1); err != nil {
				return fmt.Errorf("[%d]: %w", i, err)
			}
		}
		return nil
	case []map[string]any:
		for i, e := range x {
			if err := checkConvertible(e, depth+1); err != nil {
				return fmt.Errorf("[%d]: %w", i, err)
			}
		}
		return nil
	}
	switch x := v.(type) {
	case nil, string, bool, float64, float32, int, int64, int32, uint64, time.Time, []string:
		return nil
	case json.Number:
		if _, err := x.Float64(); err != nil {
			return fmt.Errorf("bad number %q", x)
		}
		return nil
	}
	return fmt.Errorf("unsupported value of type %T in event", v)
}
