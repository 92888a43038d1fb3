package sandbox

import (
	"net/http"
	"strings"
	"time"
)

type fault struct {
	FaultSpec
	until time.Time // zero: no window
	left  int       // for Count > 0
}

// Fail adds a fault. Faults are checked in the order added; the first that
// fires decides. Whether a probabilistic fault fires is drawn from the
// seeded generator, so the same seed and request order give the same faults.
func (s *Sandbox) Fail(f FaultSpec) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ft := &fault{FaultSpec: f, left: f.Count}
	if f.For > 0 {
		ft.until = time.Now().Add(f.For)
	}
	s.faults = append(s.faults, ft)
}

// ClearFaults removes every fault.
func (s *Sandbox) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

func (s *Sandbox) pickFault(r *http.Request) *fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	live := s.faults[:0]
	var picked *fault
	for _, f := range s.faults {
		expired := (!f.until.IsZero() && now.After(f.until)) || (f.Count > 0 && f.left <= 0)
		if expired {
			continue
		}
		live = append(live, f)
		if !f.matches(r) {
			continue
		}
		// Draw for every matching fault, fired or not, so later decisions
		// do not depend on which earlier ones fired.
		p := f.Probability
		if p <= 0 || p > 1 {
			p = 1
		}
		if s.rng.Float64() < p && picked == nil {
			picked = f
			if f.Count > 0 {
				f.left--
			}
		}
	}
	s.faults = live
	return picked
}

func (f *fault) matches(r *http.Request) bool {
	if f.Method != "" && !strings.EqualFold(f.Method, r.Method) {
		return false
	}
	return f.PathPrefix == "" || strings.HasPrefix(r.URL.Path, f.PathPrefix)
}
