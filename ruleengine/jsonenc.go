package ruleengine

import (
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"

	"go.starlark.net/starlark"
)

// maxJSONDepth stops a list that contains itself (possible before freezing)
// from recursing forever.
const maxJSONDepth = 64

// appendJSON encodes an alert context. Dicts keep the order the rule built
// them in, as Python's json.dumps does for Panther rules, so the fields read
// in the order their author chose; and doing it here rather than through
// Starlark's json.encode halves the cost of a match.
func appendJSON(buf []byte, v starlark.Value, depth int) ([]byte, error) {
	if depth > maxJSONDepth {
		return nil, fmt.Errorf("nested deeper than %d levels (a value that contains itself?)", maxJSONDepth)
	}
	switch x := v.(type) {
	case starlark.NoneType:
		return append(buf, "null"...), nil
	case starlark.Bool:
		return strconv.AppendBool(buf, bool(x)), nil
	case starlark.Int:
		return append(buf, x.String()...), nil
	case starlark.Float:
		f := float64(x)
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, fmt.Errorf("cannot encode %v as JSON", x)
		}
		return strconv.AppendFloat(buf, f, 'g', -1, 64), nil
	case starlark.String:
		return appendJSONString(buf, string(x)), nil
	case starlark.IterableMapping:
		buf = append(buf, '{')
		for i, kv := range x.Items() {
			k, ok := kv[0].(starlark.String)
			if !ok {
				return nil, fmt.Errorf("dict key %s is a %s, want str", kv[0], kv[0].Type())
			}
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendJSONString(buf, string(k))
			buf = append(buf, ':')
			var err error
			if buf, err = appendJSON(buf, kv[1], depth+1); err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
		}
		return append(buf, '}'), nil
	case starlark.Iterable:
		if _, isBytes := v.(starlark.Bytes); isBytes {
			break
		}
		buf = append(buf, '[')
		it := x.Iterate()
		defer it.Done()
		var elem starlark.Value
		for i := 0; it.Next(&elem); i++ {
			if i > 0 {
				buf = append(buf, ',')
			}
			var err error
			if buf, err = appendJSON(buf, elem, depth+1); err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
		}
		return append(buf, ']'), nil
	}
	return nil, fmt.Errorf("cannot encode a %s as JSON", v.Type())
}

const hexDigits = "0123456789abcdef"

// appendJSONString quotes s for JSON. Invalid UTF-8 becomes U+FFFD, as
// encoding/json does, so the result is always valid JSON.
func appendJSONString(buf []byte, s string) []byte {
	buf = append(buf, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				buf = append(buf, '\\', c)
			case c == '\n':
				buf = append(buf, '\\', 'n')
			case c == '\r':
				buf = append(buf, '\\', 'r')
			case c == '\t':
				buf = append(buf, '\\', 't')
			case c < 0x20:
				buf = append(buf, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				buf = append(buf, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			buf = append(buf, `\ufffd`...)
		} else {
			buf = append(buf, s[i:i+size]...)
		}
		i += size
	}
	return append(buf, '"')
}
