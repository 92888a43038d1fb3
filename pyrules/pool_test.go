package pyrules

import (
	"context"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// rulesIn writes each rule's Python into dir and returns the spec loading
// them, all reading log type T.
func rulesIn(t *testing.T, rules map[string]string) (Spec, map[string]int) {
	t.Helper()
	dir := t.TempDir()
	var spec Spec
	idx := map[string]int{}
	for _, id := range sortedKeys(rules) {
		p := filepath.Join(dir, id+".py")
		if err := os.WriteFile(p, []byte(rules[id]), 0o644); err != nil {
			t.Fatal(err)
		}
		idx[id] = len(spec.Rules)
		spec.Rules = append(spec.Rules, Rule{ID: id, Path: p, LogTypes: []string{"T"}})
	}
	return spec, idx
}

func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }

func startPool(t *testing.T, cfg Config, spec Spec) *Pool {
	t.Helper()
	p, err := Start(context.Background(), cfg, spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	for i, r := range p.Report().Rules {
		if r.Error != "" {
			t.Fatalf("rule %s does not load: %s", spec.Rules[i].ID, r.Error)
		}
	}
	return p
}

func events(t *testing.T, n int) []Event {
	t.Helper()
	var evs []Event
	for i := range n {
		ev, err := EncodeEvent("T", map[string]any{"n": i})
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	return evs
}

// Rules that loop for ever, swallow the timeout, allocate without bound or
// end the process each fail with an error naming what happened, and the
// rule beside them still sees every event, in the same batch and the next.
func TestRunawayRulesFailAloneAndOthersGoOn(t *testing.T) {
	spec, idx := rulesIn(t, map[string]string{
		"good": "def rule(event):\n    return event.get('n') % 2 == 0\n",
		// Runaways strike on event 3 only, so events before and after
		// show the rest of the batch is evaluated.
		"loop": "def rule(event):\n    while event.get('n') == 3:\n        pass\n    return False\n",
		"stubborn": "def rule(event):\n    while event.get('n') == 3:\n        try:\n            while True:\n                pass\n" +
			"        except BaseException:\n            pass\n    return False\n",
		"alloc": "def rule(event):\n    hog = []\n    while event.get('n') == 3:\n        hog.append(bytearray(64 << 20))\n    return False\n",
		"exit":  "import os\n\ndef rule(event):\n    if event.get('n') == 3:\n        os._exit(7)\n    return False\n",
	})
	p := startPool(t, Config{Workers: 1, CallTimeout: 500 * time.Millisecond, Memory: 256 << 20}, spec)
	out, err := p.Eval(context.Background(), events(t, 6))
	if err != nil {
		t.Fatal(err)
	}
	errs := map[string]string{}
	for i, outcomes := range out {
		matched := false
		for _, o := range outcomes {
			if o.Rule == idx["good"] {
				matched = o.Matched
				continue
			}
			for _, e := range o.Errors {
				id := spec.Rules[o.Rule].ID
				if i != 3 && !strings.HasPrefix(e.Message, "not evaluated") {
					t.Errorf("event %d: %s failed: %s", i, id, e.Message)
				}
				if i == 3 {
					errs[id] = e.Message
				}
			}
		}
		if matched != (i%2 == 0) {
			t.Errorf("event %d: the good rule matched %t", i, matched)
		}
	}
	for id, want := range map[string]string{
		"loop":     "time limit exceeded",
		"stubborn": "the worker was killed: it said nothing",
		"alloc":    "MemoryError",
		"exit":     "exit status 7",
	} {
		if !strings.Contains(errs[id], want) {
			t.Errorf("%s on event 3: error %q, want it to say %q", id, errs[id], want)
		}
	}
	// The pool goes on with fresh workers.
	out, err = p.Eval(context.Background(), events(t, 2))
	if err != nil || len(out[0]) == 0 || !out[0][0].Matched {
		t.Fatalf("after the runaways: %v, %v", out, err)
	}
	if rss := p.PeakRSS(); rss <= 0 || rss > 300<<20 {
		t.Errorf("peak RSS %d bytes: want a positive figure within the 256 MiB limit", rss)
	}
}

// A rule whose top level ends the worker is reported as not loading, and
// the others load and run.
func TestRuleThatKillsItsLoader(t *testing.T) {
	spec, idx := rulesIn(t, map[string]string{
		"bad":  "import os\nos._exit(3)\n",
		"good": "def rule(event):\n    return True\n",
	})
	p, err := Start(context.Background(), Config{Workers: 1}, spec)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	rep := p.Report()
	if e := rep.Rules[idx["bad"]].Error; !strings.Contains(e, "loading it took the worker down") || !strings.Contains(e, "exit status 3") {
		t.Errorf("bad rule's load error %q", e)
	}
	if rep.Rules[idx["good"]].Error != "" {
		t.Fatalf("good rule: %s", rep.Rules[idx["good"]].Error)
	}
	out, err := p.Eval(context.Background(), events(t, 1))
	if err != nil || len(out[0]) != 1 || !out[0][0].Matched || out[0][0].Rule != idx["good"] {
		t.Fatalf("eval: %+v, %v", out, err)
	}
}

// Workers see none of the parent's environment, so a secret given to
// alertbridge never reaches rule code.
func TestWorkersGetNoSecrets(t *testing.T) {
	t.Setenv("ALERTBRIDGE_TEST_SECRET", "hunter2")
	spec, _ := rulesIn(t, map[string]string{
		"env": "import os\n\ndef rule(event):\n    return True\n\ndef alert_context(event):\n    return dict(os.environ)\n",
	})
	p := startPool(t, Config{}, spec)
	env, err := p.Env(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out, err := p.Eval(context.Background(), events(t, 1))
	if err != nil || len(out[0]) != 1 || out[0][0].Values.AlertContext == nil {
		t.Fatalf("eval: %+v, %v", out, err)
	}
	var fromRule map[string]string
	if err := json.Unmarshal([]byte(*out[0][0].Values.AlertContext), &fromRule); err != nil {
		t.Fatal(err)
	}
	for _, e := range []map[string]string{env, fromRule} {
		for k, v := range e {
			if strings.Contains(v, "hunter2") || k == "ALERTBRIDGE_TEST_SECRET" || k == "HOME" || k == "PATH" {
				t.Errorf("worker environment has %s=%s", k, v)
			}
		}
	}
	if len(env) == 0 || env["TZ"] != "UTC" {
		t.Errorf("worker environment %v, want just the locale and TZ=UTC", env)
	}
}

// Many events across several workers come back in order, each with its own
// outcome.
func TestEvalSplitsAcrossWorkers(t *testing.T) {
	spec, _ := rulesIn(t, map[string]string{
		"echo": "def rule(event):\n    return True\n\ndef title(event):\n    return str(event.get('n'))\n",
	})
	p := startPool(t, Config{Workers: 3}, spec)
	out, err := p.Eval(context.Background(), events(t, 200))
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range out {
		if len(o) != 1 || o[0].Values.Title == nil || *o[0].Values.Title != strings.TrimSpace(jsonInt(i)) {
			t.Fatalf("event %d: %+v", i, o)
		}
	}
}

func jsonInt(i int) string { b, _ := json.Marshal(i); return string(b) }
