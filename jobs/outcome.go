package jobs

import (
	"errors"
	"math/rand/v2"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/alertbridge/alertbridge/internal/retryafter"
)

// Workers classify their errors; this file decides what each class means
// for River. A worker's error says one of three things, found through
// errors.As so that wrapping keeps it:
//
//   - interface{ Permanent() bool }: no retry can help (a refused request,
//     bad credentials). The job is cancelled.
//   - interface{ RetryAfter() time.Duration }: the far side asked for
//     quiet. The job is snoozed for that long, bounded by retryafter.Bound,
//     without spending an attempt.
//   - anything else is temporary: River retries it on Backoff's schedule
//     until the job's attempts run out.

// Kind is what happens to a job after one run.
type Kind int

const (
	Done   Kind = iota // the work is finished
	Cancel             // a permanent failure: never again
	Snooze             // run again after Delay, not counted as an attempt
	Retry              // a temporary failure: run again on the backoff schedule
	GiveUp             // a temporary failure on the last attempt
)

// Decision is the policy's verdict on one run.
type Decision struct {
	Kind  Kind
	Delay time.Duration // for Snooze
	Err   error
}

// Final reports whether the job will not run again.
func (d Decision) Final() bool { return d.Kind == Done || d.Kind == Cancel || d.Kind == GiveUp }

// Decide classifies err, the outcome of attempt (1-based) of a job allowed
// maxAttempts.
func Decide(err error, attempt, maxAttempts int) Decision {
	if err == nil {
		return Decision{Kind: Done}
	}
	var p interface{ Permanent() bool }
	if errors.As(err, &p) && p.Permanent() {
		return Decision{Kind: Cancel, Err: err}
	}
	var ra interface{ RetryAfter() time.Duration }
	if errors.As(err, &ra) {
		return Decision{Kind: Snooze, Delay: retryafter.Bound(ra.RetryAfter()), Err: err}
	}
	if attempt >= maxAttempts {
		return Decision{Kind: GiveUp, Err: err}
	}
	return Decision{Kind: Retry, Err: err}
}

// River is what a worker's Work returns for the decision.
func (d Decision) River() error {
	switch d.Kind {
	case Done:
		return nil
	case Cancel:
		return river.JobCancel(d.Err)
	case Snooze:
		return river.JobSnooze(d.Delay)
	default:
		return d.Err
	}
}

// Outcome is Decide and River in one, for workers that record nothing of
// their own about the decision.
func Outcome[T river.JobArgs](job *river.Job[T], err error) error {
	return Decide(err, job.Attempt, job.MaxAttempts).River()
}

// Backoff is the wait before retry number attempt (1-based): exponential from
// one second, capped at ten minutes, with half of it random so that many
// jobs failing together do not retry together.
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
