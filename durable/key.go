package durable

import (
	"context"
	"strconv"
)

type keyKey struct{}

// IdempotencyKey returns the key of the step execution ctx belongs to, in
// a journaled run: "run ID/step/attempt", where attempt counts the
// executions of the step in the run. The key is the same for the retries
// of one execution and for its re-run after a crash, so a participant that
// remembers keys does the work once. In a compensation, it returns the
// key of the execution being undone, so that a participant asked to undo
// an action it has not seen yet can leave a tombstone under that key and
// refuse the action when it arrives late (see the package documentation,
// Guarantees). It returns "" outside a journaled step or compensation.
func IdempotencyKey(ctx context.Context) string {
	k, _ := ctx.Value(keyKey{}).(string)
	return k
}

func withKey(ctx context.Context, runID, step string, attempt int) context.Context {
	return context.WithValue(ctx, keyKey{}, runID+"/"+step+"/"+strconv.Itoa(attempt))
}
