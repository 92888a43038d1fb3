package jira

import "time"

// Jira Cloud's search index lags writes, by seconds on a healthy site and
// by minutes on a troubled one. A caller that must know whether a create it
// never heard back from landed searches for the issue, and "not found"
// means something only once the lag has passed. The Site keeps the lag
// last measured on it (by whoever measures: the Jira destination does,
// now and then, after a create), so that the wait is the site's own.

// IndexLag reports the last measured search lag of the site and when it
// was measured; the zero time when it never was.
func (s *Site) IndexLag() (time.Duration, time.Time) {
	s.lagMu.Lock()
	defer s.lagMu.Unlock()
	return s.lag, s.lagAt
}

// StartLagProbe claims the site's one lag measurement if the last one is
// older than every (or there is none) and none is running; the caller
// then measures and calls EndLagProbe.
func (s *Site) StartLagProbe(every time.Duration) bool {
	s.lagMu.Lock()
	defer s.lagMu.Unlock()
	if s.lagProbing || (!s.lagAt.IsZero() && s.now().Sub(s.lagAt) < every) {
		return false
	}
	s.lagProbing = true
	return true
}

// EndLagProbe records a measured lag (ok) or gives the probe up.
func (s *Site) EndLagProbe(lag time.Duration, ok bool) {
	s.lagMu.Lock()
	defer s.lagMu.Unlock()
	s.lagProbing = false
	if ok {
		s.lag, s.lagAt = lag, s.now()
	}
}
