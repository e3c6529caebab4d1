package postgres

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/sagakit/sagakit/internal/nanotime"
	"github.com/sagakit/sagakit/journal"
)

// An op is one queued write. The writer queues its statements in a batch
// with queue and reads their results, in the same order, with read, which
// returns a journal error (such as ErrLeaseLost) when the op's check
// failed and it wrote nothing, or nil. Both may run twice (see the
// writer), so they must set their results, not add to them.
type op struct {
	run   string // the run whose row the op writes (and locks); "" for none
	wakes bool   // the op may make a run claimable: notify on commit
	// lazy: the op need not survive a crash of the server (see lazySQL).
	lazy  bool
	queue func(b *pgx.Batch, now any)
	read  func(br pgx.BatchResults) error

	done  chan error // buffered: the writer never blocks on it
	state atomic.Int32
}

// Op states: a caller that gives up waiting cancels its op unless the
// writer took it first; then it waits for the outcome.
const (
	opQueued int32 = iota
	opTaken
	opCanceled
)

// entryArgs are a list of entries as one array per column, for
// unnestEntries. A zero At is 0, which the statement replaces with now.
func entryArgs(entries []journal.Entry) []any {
	n := len(entries)
	var (
		kinds, steps, errs, statuses, verbs, notes = make([]string, n), make([]string, n), make([]string, n),
			make([]string, n), make([]string, n), make([]string, n)
		attempts, attemptss, ats = make([]int64, n), make([]int64, n), make([]int64, n)
		states                   = make([][]byte, n)
	)
	for i := range entries {
		e := &entries[i]
		kinds[i], steps[i], errs[i] = string(e.Kind), e.Step, text(e.Error)
		statuses[i], verbs[i], notes[i] = string(e.Status), string(e.Verb), text(e.Note)
		attempts[i], attemptss[i], ats[i] = int64(e.Attempt), int64(e.Attempts), nanotime.From(e.At)
		states[i] = e.State
	}
	return []any{kinds, steps, attempts, attemptss, errs, states, statuses, verbs, notes, ats}
}

// text makes free text (errors, notes) storable: PostgreSQL's text holds
// valid UTF-8 without NUL bytes, and an error message may hold anything.
// Invalid bytes and NULs become U+FFFD, so that a step's odd error does
// not keep its run from being journaled. Names (run IDs, steps, owners)
// are not changed: the database refuses such names, and the call fails.
func text(s string) string {
	if utf8.ValidString(s) && !strings.ContainsRune(s, 0) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// createOp inserts run with entries. ttl is the lease's duration from
// the database's now, nil for no lease.
func (s *Store) createOp(run *journal.Run, ttl *int64, entries []journal.Entry) *op {
	r := run
	claimable := r.LeaseOwner == "" && (r.Status.Unfinished() || r.Request.Verb != "")
	return &op{
		run:   r.ID,
		wakes: claimable,
		queue: func(b *pgx.Batch, now any) {
			args := []any{now, r.ID, r.Saga, r.Fingerprint, string(r.Status), r.State, text(r.Error), text(r.Note),
				string(r.Request.Verb), r.Request.Step, text(r.Request.Note), nanotime.From(r.Ended), r.LeaseOwner, ttl}
			b.Queue(s.sql.create, append(args, entryArgs(entries)...)...)
		},
		read: func(br pgx.BatchResults) error {
			var n int64
			if err := br.QueryRow().Scan(&n); err != nil {
				return fmt.Errorf("postgres: create %q: %w", r.ID, err)
			}
			if n == 0 {
				return fmt.Errorf("postgres: %w: %q", journal.ErrExists, r.ID)
			}
			return nil
		},
	}
}

// lastAt returns the time of the last of entries, 0 (now) if there are
// none or it has none.
func lastAt(entries []journal.Entry) int64 {
	if len(entries) == 0 {
		return 0
	}
	return nanotime.From(entries[len(entries)-1].At)
}

// appendOp appends entries and applies u, if owner holds the run's lease
// (of token u.Lease, unless it is 0). An Update that sets a wait or
// consumes signals takes appendWaitSQL, and, when it sets a wait,
// wokenSQL after it, and releaseHeldSQL after that if it releases the
// lease; any other takes appendSQL alone. An Update that releases the
// lease notifies the store's listeners, as Release does.
func (s *Store) appendOp(runID, owner string, u *journal.Update, entries []journal.Entry) *op {
	touch := u.Status != "" || u.State != nil || u.Error != nil || u.Ended || u.ClearRequest ||
		u.Wait != nil || len(u.Consume) > 0 // moves Updated
	var errText string
	if u.Error != nil {
		errText = text(*u.Error)
	}
	waits := u.Wait != nil || len(u.Consume) > 0
	park := u.Status == journal.Waiting && u.Wait != nil
	releaseLater := park && u.Release // after wokenSQL, which checks the lease
	return &op{
		run:   runID,
		wakes: u.Release,
		queue: func(b *pgx.Batch, now any) {
			args := []any{now, runID, owner, touch, string(u.Status), u.State != nil, u.State,
				u.Error != nil, errText, u.Ended, lastAt(entries), u.ClearRequest, u.Release && !releaseLater, u.Lease}
			args = append(args, entryArgs(entries)...)
			if !waits {
				b.Queue(s.sql.append, args...)
				return
			}
			var w journal.WaitFor
			if park {
				w = *u.Wait
			}
			consume := u.Consume
			if consume == nil {
				consume = []int64{}
			}
			b.Queue(s.sql.appendWait, append(args, park, w.Event, nanotime.From(w.Until), int64(w.For), consume)...)
			if park {
				b.Queue(s.sql.woken, runID, owner, u.Lease)
			}
			if releaseLater {
				b.Queue(s.sql.releaseHeld, now, runID, owner, u.Lease)
			}
		},
		read: func(br pgx.BatchResults) error {
			var done, exists bool
			if err := br.QueryRow().Scan(&done, &exists); err != nil {
				return fmt.Errorf("postgres: append to %q: %w", runID, err)
			}
			if park {
				if _, err := br.Exec(); err != nil {
					return fmt.Errorf("postgres: append to %q: %w", runID, err)
				}
			}
			if releaseLater {
				if _, err := br.Exec(); err != nil {
					return fmt.Errorf("postgres: append to %q: %w", runID, err)
				}
			}
			switch {
			case done:
				return nil
			case exists:
				return fmt.Errorf("postgres: %w: run %q", journal.ErrLeaseLost, runID)
			}
			return fmt.Errorf("postgres: %w: %q", journal.ErrNotFound, runID)
		},
	}
}

// signalOp records sig for runID and wakes the run if it waits for it:
// signalSQL, then wakeSQL, which notifies the store's listeners when it
// wakes the run. It sets *recorded.
func (s *Store) signalOp(runID string, sig *journal.Signal, recorded *bool) *op {
	return &op{
		run: runID,
		queue: func(b *pgx.Batch, now any) {
			b.Queue(s.sql.signal, now, runID, sig.Event, sig.Payload, sig.Delivery, finalStatuses)
			b.Queue(s.sql.wake, now, runID, s.w.channel)
		},
		read: func(br pgx.BatchResults) error {
			var (
				status string
				seen   bool // the delivery was recorded before
			)
			err := br.QueryRow().Scan(&status, recorded, &seen)
			if err != nil && !errors.Is(err, pgx.ErrNoRows) {
				return fmt.Errorf("postgres: signal %q: %w", runID, err)
			}
			if _, err := br.Exec(); err != nil {
				return fmt.Errorf("postgres: signal %q: %w", runID, err)
			}
			switch {
			case errors.Is(err, pgx.ErrNoRows):
				return fmt.Errorf("postgres: %w: %q", journal.ErrNotFound, runID)
			case journal.Status(status).Final() && seen:
				*recorded = false
				return nil // a retried delivery: answered as the first one
			case journal.Status(status).Final():
				*recorded = false
				return fmt.Errorf("postgres: %w: run %q is %s", journal.ErrFinal, runID, status)
			}
			return nil
		},
	}
}

func (s *Store) requestOp(runID string, r *journal.Request) *op {
	return &op{
		run:   runID,
		wakes: true,
		queue: func(b *pgx.Batch, now any) {
			b.Queue(s.sql.request, now, runID, string(r.Verb), r.Step, text(r.Note), finalStatuses, string(journal.RequestMade), r.Seen)
		},
		read: func(br pgx.BatchResults) error {
			var (
				status, pending string
				last            int64
				done            bool
			)
			err := br.QueryRow().Scan(&status, &pending, &last, &done)
			switch {
			case errors.Is(err, pgx.ErrNoRows):
				return fmt.Errorf("postgres: %w: %q", journal.ErrNotFound, runID)
			case err != nil:
				return fmt.Errorf("postgres: request on %q: %w", runID, err)
			case done:
				return nil
			case journal.Status(status).Final():
				return fmt.Errorf("postgres: %w: run %q is %s", journal.ErrFinal, runID, status)
			case pending != "":
				return fmt.Errorf("postgres: %w: run %q has %s pending", journal.ErrPending, runID, pending)
			}
			return fmt.Errorf("postgres: %w: run %q has entries after %d, up to %d", journal.ErrStale, runID, r.Seen, last)
		},
	}
}

// claimOp sets *runs to the runs it claims, oldest first.
func (s *Store) claimOp(owner string, ttl time.Duration, n int, runs *[]journal.Run) *op {
	return &op{
		queue: func(b *pgx.Batch, now any) {
			b.Queue(s.sql.claim, now, owner, int64(ttl), n)
		},
		read: func(br pgx.BatchResults) error {
			rows, err := br.Query()
			if err != nil {
				return fmt.Errorf("postgres: claim: %w", err)
			}
			got, err := scanRuns(rows)
			if err != nil {
				return fmt.Errorf("postgres: claim: %w", err)
			}
			slices.SortFunc(got, func(a, b journal.Run) int {
				if c := a.Created.Compare(b.Created); c != 0 {
					return c
				}
				return strings.Compare(a.ID, b.ID)
			})
			*runs = got
			return nil
		},
	}
}

// acquireOp sets *run to the run it leases.
func (s *Store) acquireOp(runID, owner string, ttl time.Duration, run *journal.Run) *op {
	return &op{
		run: runID,
		queue: func(b *pgx.Batch, now any) {
			b.Queue(s.sql.acquire, now, runID, owner, int64(ttl))
			b.Queue(s.sql.acquireOwner, runID)
		},
		read: func(br pgx.BatchResults) error {
			rows, err := br.Query()
			if err != nil {
				return fmt.Errorf("postgres: acquire %q: %w", runID, err)
			}
			got, err := scanRuns(rows)
			if err != nil {
				return fmt.Errorf("postgres: acquire %q: %w", runID, err)
			}
			var holder string
			err = br.QueryRow().Scan(&holder)
			switch {
			case errors.Is(err, pgx.ErrNoRows):
				return fmt.Errorf("postgres: %w: %q", journal.ErrNotFound, runID)
			case err != nil:
				return fmt.Errorf("postgres: acquire %q: %w", runID, err)
			case len(got) == 0:
				return fmt.Errorf("postgres: %w: run %q is leased to %q", journal.ErrLeaseLost, runID, holder)
			}
			*run = got[0]
			return nil
		},
	}
}

func (s *Store) renewOp(runID, owner string, ttl time.Duration) *op {
	return &op{
		run: runID,
		queue: func(b *pgx.Batch, now any) {
			b.Queue(s.sql.renew, now, runID, owner, int64(ttl))
		},
		read: func(br pgx.BatchResults) error {
			var done, exists bool
			if err := br.QueryRow().Scan(&done, &exists); err != nil {
				return fmt.Errorf("postgres: renew %q: %w", runID, err)
			}
			switch {
			case done:
				return nil
			case exists:
				return fmt.Errorf("postgres: %w: run %q", journal.ErrLeaseLost, runID)
			}
			return fmt.Errorf("postgres: %w: %q", journal.ErrNotFound, runID)
		},
	}
}

// releaseOp is lazy: a release the server forgets in a crash leaves the
// lease to run out, as a dead worker's does.
func (s *Store) releaseOp(runID, owner string) *op {
	return &op{
		run:   runID,
		wakes: true,
		lazy:  true,
		queue: func(b *pgx.Batch, _ any) {
			b.Queue(s.sql.release, runID, owner)
		},
		read: func(br pgx.BatchResults) error {
			if _, err := br.Exec(); err != nil {
				return fmt.Errorf("postgres: release %q: %w", runID, err)
			}
			return nil
		},
	}
}
