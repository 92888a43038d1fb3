package ruleengine

import (
	"errors"
	"time"
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
