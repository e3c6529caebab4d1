package journal_test

import (
	"context"
	"testing"
	"testing/synctest"

	"github.com/sagakit/sagakit/journal"
)

// A Fire made as soon as Wakeups returned wakes its channel: a worker
// subscribes, claims what is claimable, then waits, and a run released
// between its subscription and its wait must wake it (before, the
// listener subscribed only once its goroutine ran, and such a Fire was
// lost: the worker slept until its next poll).
func TestWakeupsSubscribedOnReturn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var b journal.Broadcast
		w := b.Wakeups(ctx)
		b.Fire()
		synctest.Wait()
		select {
		case <-w:
		default:
			t.Fatal("a Fire right after Wakeups returned did not wake its channel")
		}
		b.Fire() // and the next one, once the first was read
		synctest.Wait()
		select {
		case <-w:
		default:
			t.Fatal("the second Fire did not wake the channel")
		}
	})
}
