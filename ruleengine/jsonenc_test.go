package ruleengine

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestAlertContextJSON(t *testing.T) {
	rs := loadOne(t, `
def rule(e):
    return True
def alert_context(e):
    return {
        "z": 1, "a": [1.5, True, None, ("t",), set([3])], "s": "q\"\\\n\t\x01é",
        "event": e, "big": 123456789012345678901234567890,
    }
`)
	m, errs := eval(t, rs, map[string]any{"k": "v"})
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	got := string(m[0].Context)
	want := `{"z":1,"a":[1.5,true,null,["t"],[3]],"s":"q\"\\\n\t\u0001é","event":{"k":"v"},"big":123456789012345678901234567890}`
	if got != want {
		t.Errorf("context\n got %s\nwant %s", got, want)
	}
	if !json.Valid(m[0].Context) {
		t.Error("context is not valid JSON")
	}
}

func TestAlertContextJSONErrors(t *testing.T) {
	for name, expr := range map[string]string{
		"non-string key": "{1: 'x'}",
		"function":       "{'f': rule}",
		"infinity":       "{'f': float('inf')}",
		"self reference": "(lambda l: [l.append(l), {'l': l}][1])([])",
	} {
		t.Run(name, func(t *testing.T) {
			rs := loadOne(t, "def rule(e):\n    return True\ndef alert_context(e):\n    return "+expr+"\n")
			m, errs := eval(t, rs, nil)
			if len(m) != 1 || m[0].Context != nil || len(errs) != 1 || !strings.Contains(errs[0].Error(), "encode as JSON") {
				t.Errorf("matches %v, errors %v", m, errs)
			}
		})
	}
}

func TestAppendJSONStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", "quote\" back\\slash", "\x00\x1f\x7f", "日本語", "bad \xff utf8", "<tag>&"} {
		got := appendJSONString(nil, s)
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Errorf("%q encoded as %s: %v", s, got, err)
			continue
		}
		want := strings.ToValidUTF8(s, "\uFFFD")
		if back != want {
			t.Errorf("%q round-tripped to %q", s, back)
		}
	}
}
