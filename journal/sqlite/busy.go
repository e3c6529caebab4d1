package sqlite

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	driver "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// The backoff between the attempts of a step of Open that found the file
// locked: it doubles from minBackoff to maxBackoff, with jitter so that
// processes that collided once do not collide again.
const (
	minBackoff = time.Millisecond
	maxBackoff = 50 * time.Millisecond
)

// isBusy reports whether err is SQLite's SQLITE_BUSY or SQLITE_LOCKED,
// extended codes included (SQLITE_BUSY_RECOVERY, say): another connection
// holds a lock that this one needs, and trying again later may succeed.
func isBusy(err error) bool {
	var e *driver.Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Code() & 0xff { // the driver turns extended result codes on
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return true
	}
	return false
}

// retryBusy runs step, and runs it again, after a short backoff, as long
// as it fails because the file is locked (see [isBusy]) and neither ctx
// has ended nor bound has passed since the first attempt. It returns
// step's first other outcome, or its last error (with ctx's, if ctx
// ended). SQLite's busy handler does not cover every wait: some lock
// requests fail at once, without invoking it, so that two connections
// cannot deadlock (see sqlite3_busy_handler); a step that made one must
// roll back what it did and start over, which is what this is for.
func retryBusy(ctx context.Context, bound time.Duration, step func() error) error {
	start := time.Now()
	backoff := minBackoff
	for attempt := 1; ; attempt++ {
		err := step()
		if err == nil || !isBusy(err) {
			return err
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%w (after %d attempts: %w)", err, attempt, ctx.Err())
		}
		left := bound - time.Since(start)
		if left <= 0 {
			return fmt.Errorf("%w (still locked after %d attempts in %v)",
				err, attempt, time.Since(start).Round(time.Millisecond))
		}
		t := time.NewTimer(min(backoff/2+rand.N(backoff), left))
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (after %d attempts: %w)", err, attempt, ctx.Err())
		case <-t.C:
		}
		backoff = min(2*backoff, maxBackoff)
	}
}
