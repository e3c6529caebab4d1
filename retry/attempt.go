package retry

import (
	"context"
	"strconv"
)

// Attempt returns the number, counted from 1, of the attempt that ctx
// belongs to: inside a function run by [Do], the current attempt. It
// returns 1 when ctx carries no attempt number, which is the case on the
// first attempt of Do (so that a first attempt costs no allocation).
func Attempt(ctx context.Context) int {
	if n, ok := ctx.Value(attemptKey{}).(int); ok {
		return n
	}
	return 1
}

// WithAttempt returns a copy of ctx that carries attempt number n, as read
// by [Attempt]. n below 1 is stored as 1. It is for runners that drive
// attempts themselves, for example to resume a step after a crash from a
// persisted attempt count, with [Policy.Delay] computing the waits. [Do]
// numbers its own attempts from 1 and ignores the number it finds in ctx.
func WithAttempt(ctx context.Context, n int) context.Context {
	if ctx == nil {
		panic("retry: WithAttempt with nil Context")
	}
	return &attemptCtx{Context: ctx, n: max(n, 1)}
}

// attemptKey is the context key of the attempt number.
type attemptKey struct{}

// attemptCtx carries an attempt number. Unlike context.WithValue it stores
// the number unboxed, so [Do] can allocate the contexts of several retries
// at once.
type attemptCtx struct {
	context.Context
	n int
}

func (c *attemptCtx) Value(key any) any {
	if key == (attemptKey{}) {
		return c.n
	}
	return c.Context.Value(key)
}

func (c *attemptCtx) String() string {
	return contextName(c.Context) + ".WithAttempt(" + strconv.Itoa(c.n) + ")"
}

// contextName mirrors the context package's naming of parents.
func contextName(c context.Context) string {
	if s, ok := c.(interface{ String() string }); ok {
		return s.String()
	}
	return "context"
}

// hasAttempt reports whether ctx carries an attempt number.
func hasAttempt(ctx context.Context) bool {
	_, ok := ctx.Value(attemptKey{}).(int)
	return ok
}
