package saga

import "context"

type runIDKey struct{}   // the caller's chosen run ID (WithRunID)
type currentKey struct{} // the ID of the run a step belongs to

// WithRunID returns a context that makes the next Run given it use id as
// its run ID instead of generating one. Use it to tie a run to an ID of
// your own (a request ID, an order number) or to a durable journal.
func WithRunID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, runIDKey{}, id)
}

// ChosenRunID returns the ID [WithRunID] put in ctx for the next run, or
// "" if none: a runner that journals a run before starting it (package
// durable's Start) reads it. Inside a step, it is "" (see [RunID] for the
// current run's).
func ChosenRunID(ctx context.Context) string {
	id, _ := ctx.Value(runIDKey{}).(string)
	return id
}

// RunID returns the ID of the run whose step (or compensation, or hook)
// is being called with ctx, or "" outside a run. Together with the step's
// name and attempt it makes an idempotency key for participants.
func RunID(ctx context.Context) string {
	if id, ok := ctx.Value(currentKey{}).(*string); ok {
		return *id
	}
	return ""
}

// runContext is the context steps receive: the forward (or detached)
// context plus the run's ID. It lives inside the run's one allocation.
// It hides the caller's WithRunID so a saga run from inside a step gets an
// ID of its own.
type runContext struct {
	context.Context
	id *string
}

func (c *runContext) Value(key any) any {
	switch key.(type) {
	case currentKey:
		return c.id
	case runIDKey:
		return nil
	}
	return c.Context.Value(key)
}
