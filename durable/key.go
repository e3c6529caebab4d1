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
// remembers keys does the work once. It returns "" outside a journaled
// step.
func IdempotencyKey(ctx context.Context) string {
	k, _ := ctx.Value(keyKey{}).(string)
	return k
}

func withKey(ctx context.Context, runID, step string, attempt int) context.Context {
	return context.WithValue(ctx, keyKey{}, runID+"/"+step+"/"+strconv.Itoa(attempt))
}
