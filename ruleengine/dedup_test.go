package ruleengine

import (
	"encoding/json"
	"testing"
	"time"
)

var t0 = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

func testRule(threshold int, period time.Duration) *Rule {
	return &Rule{ID: "Test.Rule", DisplayName: "Test rule", Threshold: threshold, DedupPeriod: period}
}

func matchAt(r *Rule, dedup string, at time.Time) Match {
	return Match{Rule: r, Title: "t", Dedup: dedup, EventTime: at}
}

func TestFold(t *testing.T) {
	hour := time.Hour
	type step struct {
		dedup string
		at    time.Duration // after t0
		want  Outcome
		count int
		newID bool // the alert ID differs from the previous step's
	}
	for _, tc := range []struct {
		name      string
		threshold int
		steps     []step
	}{
		{"threshold 1 raises at once, then updates", 1, []step{
			{"a", 0, Raise, 1, true},
			{"a", 10 * time.Minute, Update, 2, false},
			{"a", 59 * time.Minute, Update, 3, false},
		}},
		{"below threshold is pending; reaching it raises", 3, []step{
			{"a", 0, Pending, 1, true},
			{"a", time.Minute, Pending, 2, false},
			{"a", 2 * time.Minute, Raise, 3, false},
			{"a", 3 * time.Minute, Update, 4, false},
		}},
		{"a new period starts a new alert", 1, []step{
			{"a", 0, Raise, 1, true},
			{"a", hour, Raise, 1, true}, // the period is [t0, t0+1h)
			{"a", hour + time.Minute, Update, 2, false},
		}},
		{"the count restarts each period", 2, []step{
			{"a", 0, Pending, 1, true},
			{"a", 61 * time.Minute, Pending, 1, true},
			{"a", 62 * time.Minute, Raise, 2, false},
		}},
		{"a late event joins the current period", 2, []step{
			{"a", 30 * time.Minute, Pending, 1, true},
			{"a", 10 * time.Minute, Raise, 2, false},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := testRule(tc.threshold, hour)
			var g *Group
			prevID := ""
			for i, s := range tc.steps {
				now := t0.Add(2 * time.Hour) // processing time is not what counts
				next, out := Fold(g, matchAt(r, s.dedup, t0.Add(s.at)), now)
				if out != s.want || next.Count != s.count {
					t.Fatalf("step %d: outcome %v count %d, want %v count %d", i, out, next.Count, s.want, s.count)
				}
				if (next.AlertID != prevID) != s.newID {
					t.Fatalf("step %d: alert ID %s after %s, want new=%v", i, next.AlertID, prevID, s.newID)
				}
				if next.AlertID != AlertID(r.ID, s.dedup, next.PeriodStart) {
					t.Fatalf("step %d: alert ID not derived from the period", i)
				}
				prevID = next.AlertID
				g = &next
			}
		})
	}
}

func TestFoldTracksTimes(t *testing.T) {
	r := testRule(1, time.Hour)
	now := t0.Add(5 * time.Hour)
	g, _ := Fold(nil, matchAt(r, "a", t0.Add(10*time.Minute)), now)
	g, _ = Fold(&g, matchAt(r, "a", t0.Add(20*time.Minute)), now.Add(time.Second))
	g, _ = Fold(&g, matchAt(r, "a", t0.Add(5*time.Minute)), now.Add(2*time.Second))
	if !g.PeriodStart.Equal(t0.Add(10*time.Minute)) || !g.PeriodEnd.Equal(t0.Add(70*time.Minute)) ||
		!g.FirstSeen.Equal(t0.Add(5*time.Minute)) || !g.LastSeen.Equal(t0.Add(20*time.Minute)) ||
		!g.RaisedAt.Equal(now) || !g.UpdatedAt.Equal(now.Add(2*time.Second)) {
		t.Errorf("group times = %+v", g)
	}
	// Without an event time, the processing time counts.
	g2, _ := Fold(nil, matchAt(r, "b", time.Time{}), now)
	if !g2.PeriodStart.Equal(now) {
		t.Errorf("period start %v, want now %v", g2.PeriodStart, now)
	}
}

func TestDeduperKeepsGroupsApart(t *testing.T) {
	r := testRule(2, time.Hour)
	other := &Rule{ID: "Other.Rule", Threshold: 1, DedupPeriod: time.Hour}
	var d Deduper
	steps := []struct {
		m    Match
		want Outcome
	}{
		{matchAt(r, "alice", t0), Pending},
		{matchAt(r, "bob", t0.Add(time.Minute)), Pending}, // different dedup: its own count
		{matchAt(other, "alice", t0.Add(2*time.Minute)), Raise},
		{matchAt(r, "alice", t0.Add(3*time.Minute)), Raise},
		{matchAt(r, "bob", t0.Add(4*time.Minute)), Raise},
	}
	ids := map[string]bool{}
	for i, s := range steps {
		g, out := d.Fold(s.m, t0)
		if out != s.want {
			t.Fatalf("step %d: %v, want %v", i, out, s.want)
		}
		if out == Raise {
			if ids[g.AlertID] {
				t.Fatalf("step %d: alert ID %s reused by another group", i, g.AlertID)
			}
			ids[g.AlertID] = true
		}
	}
	if len(d.Groups) != 3 {
		t.Errorf("%d groups, want 3", len(d.Groups))
	}

	// The state survives a JSON round trip and carries on where it was.
	raw, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	var restored Deduper
	if err := json.Unmarshal(raw, &restored); err != nil {
		t.Fatal(err)
	}
	g, out := restored.Fold(matchAt(r, "alice", t0.Add(5*time.Minute)), t0)
	if out != Update || g.Count != 3 || g.AlertID != AlertID(r.ID, "alice", t0) {
		t.Errorf("after restore: %v %+v", out, g)
	}

	if n := restored.Expire(t0.Add(61 * time.Minute)); n != 2 || len(restored.Groups) != 1 {
		t.Errorf("Expire dropped %d, kept %d; want 2 and 1", n, len(restored.Groups))
	}
}

// Raising the same group and period twice, even from scratch (a lost state,
// another replica), names the same alert.
func TestAlertIDIsDeterministic(t *testing.T) {
	r := testRule(1, time.Hour)
	a, _ := Fold(nil, matchAt(r, "x", t0), t0)
	b, _ := Fold(nil, matchAt(r, "x", t0.In(time.FixedZone("X", 3600))), t0.Add(time.Hour))
	if a.AlertID != b.AlertID || len(a.AlertID) != 32 {
		t.Errorf("alert IDs %q and %q, want equal and 32 long", a.AlertID, b.AlertID)
	}
	for _, other := range []string{
		AlertID("Test.Rule", "y", t0),
		AlertID("Other", "x", t0),
		AlertID("Test.Rule", "x", t0.Add(time.Nanosecond)),
		AlertID("Test.Rulex", "", t0),
	} {
		if other == a.AlertID {
			t.Errorf("different group or period gave the same ID %s", other)
		}
	}
}

func TestOutcomeString(t *testing.T) {
	if Pending.String() != "pending" || Raise.String() != "raise" || Update.String() != "update" || Outcome(0).String() != "Outcome(0)" {
		t.Error("Outcome.String")
	}
}
