package delivery

import (
	"math/rand/v2"
	"time"

	"github.com/riverqueue/river/rivertype"
)

// Backoff is the wait before retry number attempt (1-based): exponential from
// one second, capped at ten minutes, with half of it random so that many
// deliveries failing together do not retry together.
func Backoff(attempt int) time.Duration {
	d := time.Second << min(max(attempt-1, 0), 10)
	d = min(d, 10*time.Minute)
	half := d / 2
	return half + rand.N(half+1)
}

type retryPolicy struct{ backoff func(int) time.Duration }

func (p retryPolicy) NextRetry(job *rivertype.JobRow) time.Time {
	// Errors counts failed attempts only; River does not count snoozes there.
	return time.Now().Add(p.backoff(len(job.Errors) + 1))
}
