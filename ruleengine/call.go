package ruleengine

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"go.starlark.net/starlark"
)

// A call's clock and context are polled every checkEvery steps, which costs
// a few percent of a long call and nothing for the typical one that ends
// sooner. Polling alone would let a call whose every step is slow (a big
// sort, say) overrun by checkEvery of them, so a call that has used a tenth
// of its time also gets a real timer, which cancels it at its next step.
// Arming a timer for every call would cost more than most rule calls do.
const (
	checkEvery      = 64
	timerAfterShare = 10 // arm the timer after Timeout/timerAfterShare
)

// runner makes bounded calls of Starlark functions for one goroutine. It
// reuses one thread across calls, because a thread's allocation and frame
// stack cost more than a typical rule call; a call that ran long enough to
// arm a timer leaves the thread behind, so a late-firing timer can never
// cancel the next call.
type runner struct {
	ctx   context.Context
	lim   Limits
	print func(string)
	c     *call
}

func newRunner(ctx context.Context, lim Limits, print func(string)) *runner {
	return &runner{ctx: ctx, lim: lim.withDefaults(), print: print}
}

// call runs fn(args...) within the limits.
func (r *runner) call(fn starlark.Value, args starlark.Tuple) (out starlark.Value, err error) {
	if r.c == nil {
		r.c = newCall(r.ctx, r.lim, r.print)
	}
	c := r.c
	err = c.run(func(th *starlark.Thread) error {
		var err error
		out, err = starlark.Call(th, fn, args, nil)
		return err
	})
	if c.timer != nil || err != nil {
		r.c = nil
	}
	return out, err
}

// call is the state of bounded runs on one thread.
type call struct {
	th       starlark.Thread
	ctx      context.Context
	lim      Limits
	start    time.Time
	deadline time.Time
	ownTimer bool // the deadline is ours, not the caller's context's

	timer     *time.Timer
	stopWatch func() bool
	stop      atomic.Pointer[error] // why the run was cancelled, if it was
}

func discardPrint(*starlark.Thread, string) {}

func newCall(ctx context.Context, lim Limits, print func(string)) *call {
	c := &call{ctx: ctx, lim: lim.withDefaults()}
	c.th.Name = "rule"
	c.th.Print = discardPrint
	if print != nil {
		c.th.Print = func(_ *starlark.Thread, msg string) { print(msg) }
	}
	c.th.OnMaxSteps = c.check
	return c
}

// boundedCall runs f once on a new thread limited by lim and ctx.
func boundedCall(ctx context.Context, lim Limits, print func(string), f func(*starlark.Thread) error) error {
	return newCall(ctx, lim, print).run(f)
}

func (c *call) run(f func(*starlark.Thread) error) (err error) {
	if err := c.ctx.Err(); err != nil {
		return err
	}
	c.th.Steps = 0
	c.th.SetMaxExecutionSteps(min(checkEvery, c.lim.MaxSteps))
	c.start = time.Now()
	c.deadline, c.ownTimer = c.start.Add(c.lim.Timeout), true
	if d, ok := c.ctx.Deadline(); ok && d.Before(c.deadline) {
		c.deadline, c.ownTimer = d, false
	}

	defer func() {
		// Built-ins are Go code; a bug in one must cost one rule call, not
		// the process.
		if p := recover(); p != nil {
			err = fmt.Errorf("panic in Starlark call: %v", p)
		}
	}()
	err = f(&c.th)
	if c.timer != nil {
		c.timer.Stop()
		c.stopWatch()
	}
	if stop := c.stop.Load(); err != nil && stop != nil {
		return *stop
	}
	return err
}

// check runs on the Starlark thread whenever it reaches its step allowance.
func (c *call) check(th *starlark.Thread) {
	now := time.Now()
	switch {
	case th.Steps >= c.lim.MaxSteps:
		c.cancel(fmt.Errorf("%w (%d steps)", ErrStepLimit, c.lim.MaxSteps))
		return
	case c.ctx.Err() != nil:
		c.cancel(c.ctx.Err())
		return
	case !now.Before(c.deadline):
		c.cancel(c.deadlineErr())
		return
	}
	if c.timer == nil && now.Sub(c.start) >= c.lim.Timeout/timerAfterShare {
		c.timer = time.AfterFunc(c.deadline.Sub(now), func() { c.cancel(c.deadlineErr()) })
		c.stopWatch = context.AfterFunc(c.ctx, func() { c.cancel(c.ctx.Err()) })
	}
	th.SetMaxExecutionSteps(min(th.Steps+checkEvery, c.lim.MaxSteps))
}

func (c *call) deadlineErr() error {
	if c.ownTimer {
		return fmt.Errorf("%w (%s)", ErrTimeout, c.lim.Timeout)
	}
	return context.DeadlineExceeded
}

// cancel may run on the timer's goroutine; the first reason wins.
func (c *call) cancel(err error) {
	if c.stop.CompareAndSwap(nil, &err) {
		c.th.Cancel(err.Error())
	}
}
