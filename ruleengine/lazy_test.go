package ruleengine

import (
	"testing"
)

// A lazily converted event must read exactly like the dict it stands for.
func TestEventReadsLikeADict(t *testing.T) {
	rs := loadOne(t, `
def rule(e):
    a = e["actor"]
    checks = [
        type(e) == "dict" and type(a) == "dict",
        len(e) == 3 and len(a) == 2 and bool(e),
        "actor" in e and "nope" not in e and 1 not in e,
        e.get("nope") == None and e.get("nope", 7) == 7 and e.get("n") == 2,
        [k for k in e] == ["actor", "list", "n"],
        e.keys() == ["actor", "list", "n"],
        a.items() == [("email", "a@example.com"), ("name", "ann")],
        a.values() == ["a@example.com", "ann"],
        json.encode(a) == '{"email":"a@example.com","name":"ann"}',
        str(a) == '{"email": "a@example.com", "name": "ann"}',
        e["list"][0]["k"] == "v" and deep_get(e, "list", 0, "k") == "v",
        deep_get(e, "actor", "email") == "a@example.com",
        {k: v for k, v in a.items()} == {"email": "a@example.com", "name": "ann"},
    ]
    for i, ok in enumerate(checks):
        if not ok:
            fail("check %d failed" % i)
    return True
`)
	data := map[string]any{
		"actor": map[string]any{"name": "ann", "email": "a@example.com"},
		"list":  []any{map[string]any{"k": "v"}},
		"n":     float64(2),
	}
	m, errs := eval(t, rs, data)
	if len(errs) != 0 || len(m) != 1 {
		t.Fatalf("matches %v, errors %v", m, errs)
	}
}

// An event no rule could read fails once, up front, whatever rules touch.
func TestUnconvertibleEventFailsUpFront(t *testing.T) {
	rs := loadOne(t, "def rule(e):\n    return True\n")
	_, errs := eval(t, rs, map[string]any{"deep": map[string]any{"x": struct{}{}}})
	if len(errs) != 1 || errs[0].Function != "event" {
		t.Fatalf("errors %v, want one conversion error before any rule ran", errs)
	}
}
