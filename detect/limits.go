package detect

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.starlark.net/starlark"
)

// Limits bound each call of a rule function. The zero value means the
// defaults.
type Limits struct {
	MaxSteps uint64        // Starlark execution steps per call
	Timeout  time.Duration // wall-clock time per call
}

const (
	DefaultMaxSteps = 1_000_000
	DefaultTimeout  = 100 * time.Millisecond
)

// Errors a rule function fails with when it runs out of budget. Test with
// errors.Is; a RuleError wraps them.
var (
	ErrStepLimit = errors.New("step limit exceeded")
	ErrTimeout   = errors.New("time limit exceeded")
)

func (l Limits) withDefaults() Limits {
	if l.MaxSteps == 0 {
		l.MaxSteps = DefaultMaxSteps
	}
	if l.Timeout <= 0 {
		l.Timeout = DefaultTimeout
	}
	return l
}

// checkEvery is how many steps run between looks at the clock and the
// context. Arming a timer per call costs more than a typical rule does, so
// the deadline is polled instead; a few hundred steps take microseconds, so
// cancellation is still prompt.
const checkEvery = 256

// call is one bounded run of Starlark code on a fresh thread. Threads are
// cheap; a fresh one per call means no state, and no cancellation, carries
// over from one rule to the next.
type call struct {
	th       starlark.Thread
	ctx      context.Context
	deadline time.Time
	ownTimer bool // the deadline is ours, not the caller's context's
	maxSteps uint64
	timeout  time.Duration
	stop     error
}

func discardPrint(*starlark.Thread, string) {}

// boundedCall runs f on a new thread limited by lim and ctx. print receives
// the output of Starlark's print(); nil discards it.
func boundedCall(ctx context.Context, lim Limits, print func(string), f func(*starlark.Thread) error) (err error) {
	lim = lim.withDefaults()
	c := &call{ctx: ctx, maxSteps: lim.MaxSteps, timeout: lim.Timeout, ownTimer: true}
	c.deadline = time.Now().Add(lim.Timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(c.deadline) {
		c.deadline, c.ownTimer = d, false
	}
	c.th.Name = "rule"
	c.th.Print = discardPrint
	if print != nil {
		c.th.Print = func(_ *starlark.Thread, msg string) { print(msg) }
	}
	c.th.OnMaxSteps = c.check
	c.th.SetMaxExecutionSteps(min(checkEvery, c.maxSteps))

	defer func() {
		// Built-ins are Go code; a bug in one must cost one rule call, not
		// the process.
		if p := recover(); p != nil {
			err = fmt.Errorf("panic in Starlark call: %v", p)
		}
	}()
	if err := ctx.Err(); err != nil {
		return err
	}
	err = f(&c.th)
	if err != nil && c.stop != nil {
		return c.stop
	}
	return err
}

func (c *call) check(th *starlark.Thread) {
	switch {
	case th.Steps >= c.maxSteps:
		c.stop = fmt.Errorf("%w (%d steps)", ErrStepLimit, c.maxSteps)
	case c.ctx.Err() != nil:
		c.stop = c.ctx.Err()
	case !time.Now().Before(c.deadline):
		if c.ownTimer {
			c.stop = fmt.Errorf("%w (%s)", ErrTimeout, c.timeout)
		} else {
			c.stop = context.DeadlineExceeded
		}
	default:
		th.SetMaxExecutionSteps(min(th.Steps+checkEvery, c.maxSteps))
		return
	}
	th.Cancel(c.stop.Error())
}
