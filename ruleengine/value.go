package ruleengine

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	"go.starlark.net/starlark"
)

// maxSafeInt is the largest integer a float64 holds exactly.
const maxSafeInt = 1 << 53

// maxDepth stops a self-referencing map from recursing forever.
const maxDepth = 256

// converter turns decoded JSON (what encoding/json produces, and a few Go
// types a caller may put in an event) into Starlark values; objects become
// eventDicts, converted as rules read them.
type converter struct{}

// toStarlark converts an event into a frozen Starlark value. Freezing is
// what makes the event read-only to rules: any attempt to change it raises
// an error in the rule instead of leaking into the next one.
func toStarlark(v any) (starlark.Value, error) {
	if err := checkConvertible(v, 0); err != nil {
		return nil, err
	}
	var c converter
	sv, err := c.convert(v, 0)
	if err != nil {
		return nil, err
	}
	sv.Freeze()
	return sv, nil
}

func (c *converter) convert(v any, depth int) (starlark.Value, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("event nested deeper than %d levels", maxDepth)
	}
	switch x := v.(type) {
	case nil:
		return starlark.None, nil
	case string:
		return starlark.String(x), nil
	case bool:
		return starlark.Bool(x), nil
	case float64:
		return number(x), nil
	case float32:
		return number(float64(x)), nil
	case int:
		return starlark.MakeInt(x), nil
	case int64:
		return starlark.MakeInt64(x), nil
	case int32:
		return starlark.MakeInt64(int64(x)), nil
	case uint64:
		return starlark.MakeUint64(x), nil
	case json.Number:
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return starlark.MakeInt64(i), nil
		}
		f, err := x.Float64()
		if err != nil {
			return nil, fmt.Errorf("bad number %q", x)
		}
		return starlark.Float(f), nil
	case time.Time:
		return starlark.String(x.Format(time.RFC3339Nano)), nil
	case map[string]any:
		return newEventDict(x, depth), nil
	case []any:
		elems := make([]starlark.Value, len(x))
		for i, e := range x {
			ev, err := c.convert(e, depth+1)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			elems[i] = ev
		}
		return starlark.NewList(elems), nil
	case []string:
		elems := make([]starlark.Value, len(x))
		for i, e := range x {
			elems[i] = starlark.String(e)
		}
		return starlark.NewList(elems), nil
	case []map[string]any:
		elems := make([]starlark.Value, len(x))
		for i, e := range x {
			elems[i] = newEventDict(e, depth+1)
		}
		return starlark.NewList(elems), nil
	}
	return nil, fmt.Errorf("unsupported value of type %T in event", v)
}

// number follows JSON's intent rather than Go's decoding: encoding/json gives
// every number as a float64, but an event's 3 is a count or an id, so whole
// numbers become ints (and `x == 3`, `range(x)`, list[x] work as a Python
// author expects).
func number(f float64) starlark.Value {
	if f == math.Trunc(f) && math.Abs(f) <= maxSafeInt {
		return starlark.MakeInt64(int64(f))
	}
	return starlark.Float(f)
}
