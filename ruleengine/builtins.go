package ruleengine

import (
	"fmt"

	starjson "go.starlark.net/lib/json"
	"go.starlark.net/starlark"
)

// predeclared is every rule module's environment beyond Starlark's own
// built-ins. It is frozen, so modules may share it across goroutines.
var predeclared = func() starlark.StringDict {
	d := starlark.StringDict{
		"deep_get": starlark.NewBuiltin("deep_get", deepGet),
		"json":     starjson.Module,
	}
	d.Freeze()
	return d
}()

// deepGet walks nested dicts (and lists, by integer index) the way Panther's
// helper does: deep_get(event, "a", "b", 0, default=None). Any missing step,
// or a step into something that is neither, yields the default rather than an
// error, because audit events routinely omit whole sub-objects. A None at the
// end yields the default too, which is what rule authors mean by it.
func deepGet(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var def starlark.Value = starlark.None
	for _, kv := range kwargs {
		if k, _ := starlark.AsString(kv[0]); k != "default" {
			return nil, fmt.Errorf("%s: unexpected keyword argument %s", b.Name(), kv[0])
		}
		def = kv[1]
	}
	if len(args) == 0 {
		return nil, fmt.Errorf("%s: missing argument for event", b.Name())
	}
	v := args[0]
	for _, key := range args[1:] {
		next, ok, err := step(v, key)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", b.Name(), err)
		}
		if !ok {
			return def, nil
		}
		v = next
	}
	if v == starlark.None {
		return def, nil
	}
	return v, nil
}

func step(v, key starlark.Value) (starlark.Value, bool, error) {
	switch c := v.(type) {
	case starlark.String, starlark.Bytes:
		// Indexable, but a character is never what a path into an event means.
		return nil, false, nil
	case starlark.Mapping:
		got, found, err := c.Get(key)
		if err != nil {
			return nil, false, err
		}
		return got, found, nil
	case starlark.Indexable:
		i, ok := key.(starlark.Int)
		if !ok {
			return nil, false, nil
		}
		n, ok := i.Int64()
		if !ok {
			return nil, false, nil
		}
		if n < 0 {
			n += int64(c.Len())
		}
		if n < 0 || n >= int64(c.Len()) {
			return nil, false, nil
		}
		return c.Index(int(n)), true, nil
	}
	return nil, false, nil
}
