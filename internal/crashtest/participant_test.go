//go:build unix

package crashtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" driver, for the participant's own file
)

// participant is the outside world of the tests that run several worker
// processes at once (zombie_test.go, verbs_test.go): a service that keeps
// what it did in a SQLite file of its own, which any number of processes
// may call at the same time. It follows the pattern step authors are told
// to follow, since durable runs steps and compensations at least once,
// and, in the window a frozen process leaves open, possibly twice at
// once:
//
//   - An action carries its execution's idempotency key
//     ([durable.IdempotencyKey], "run/step/execution"). The participant
//     checks the key and takes the effect in one transaction: a key seen
//     before is answered "duplicate" and takes no second effect.
//   - A compensation names the step of the run it undoes. It cannot know
//     which execution took effect, if any (a step whose outcome is unknown
//     may have), so it undoes every effect of that step of that run, and
//     whether or not it found one, it leaves a tombstone on the step.
//   - An action that finds a tombstone on its step is refused: it arrives
//     after its compensation (from a zombie, or delayed on the way), and
//     taking it would leave an effect that nothing will undo.
//   - Each call is one transaction (BEGIN IMMEDIATE), so SQLite's lock
//     orders calls from several processes; the check and the write cannot
//     be split by another call.
//
// It also records every call, with the caller (the engine's lease owner)
// and the time, so that a test can tell which process did what and when,
// and it notices two executions of one step of one run at once (begin,
// end): a step run twice at the same time by two drivers.
type participant struct {
	db    *sql.DB
	owner string // who calls: recorded with each call
}

// The outcomes of the participant's calls.
const (
	outDone      = "done"      // do: the effect was taken
	outDuplicate = "duplicate" // do: the key's effect was taken before; nothing more
	outRefused   = "refused"   // do: the step has a tombstone; no effect
	outUndone    = "undone"    // undo: effects undone (and a tombstone left)
	outTombstone = "tombstone" // undo: nothing to undo; a tombstone left
	outAgain     = "again"     // undo: undone before; nothing more
)

var participantSchema = []string{
	// The effects taken, one per key; undone_at is 0 while it stands.
	`CREATE TABLE IF NOT EXISTS effects (
		key       TEXT    NOT NULL PRIMARY KEY,
		run       TEXT    NOT NULL,
		step      TEXT    NOT NULL,
		owner     TEXT    NOT NULL,
		at        INTEGER NOT NULL,
		undone_by TEXT    NOT NULL DEFAULT '',
		undone_at INTEGER NOT NULL DEFAULT 0)`,
	`CREATE INDEX IF NOT EXISTS effects_step ON effects (run, step)`,
	// The steps compensated: their late actions are refused.
	`CREATE TABLE IF NOT EXISTS tombstones (
		run   TEXT    NOT NULL,
		step  TEXT    NOT NULL,
		owner TEXT    NOT NULL,
		at    INTEGER NOT NULL,
		PRIMARY KEY (run, step))`,
	// Every call and its outcome; cause is why the caller's context had
	// ended when it called, if it had.
	`CREATE TABLE IF NOT EXISTS calls (
		id      INTEGER PRIMARY KEY AUTOINCREMENT,
		kind    TEXT    NOT NULL, -- do, undo
		run     TEXT    NOT NULL,
		step    TEXT    NOT NULL,
		key     TEXT    NOT NULL,
		owner   TEXT    NOT NULL,
		outcome TEXT    NOT NULL,
		cause   TEXT    NOT NULL,
		at      INTEGER NOT NULL)`,
	// Executions in progress, and the overlaps found.
	`CREATE TABLE IF NOT EXISTS active (
		token TEXT    NOT NULL PRIMARY KEY,
		run   TEXT    NOT NULL,
		step  TEXT    NOT NULL,
		owner TEXT    NOT NULL,
		at    INTEGER NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS overlaps (
		run   TEXT    NOT NULL,
		step  TEXT    NOT NULL,
		owner TEXT    NOT NULL,
		other TEXT    NOT NULL,
		at    INTEGER NOT NULL)`,
}

// participantDSN opens path with a generous busy timeout (processes wait
// for each other's transactions) and write transactions that take the
// lock at BEGIN.
func participantDSN(path string) string {
	return path + "?_pragma=busy_timeout(20000)&_pragma=synchronous(NORMAL)&_txlock=immediate"
}

// createParticipant creates the participant's file, in WAL mode, before
// any process opens it (two processes switching a new file to WAL at once
// may fail).
func createParticipant(path string) error {
	db, err := sql.Open("sqlite", participantDSN(path))
	if err != nil {
		return err
	}
	defer db.Close()
	var mode string
	if err := db.QueryRow("PRAGMA journal_mode = WAL").Scan(&mode); err != nil {
		return fmt.Errorf("participant: WAL: %w", err)
	}
	for _, s := range participantSchema {
		if _, err := db.Exec(s); err != nil {
			return fmt.Errorf("participant: schema: %w", err)
		}
	}
	return nil
}

// openParticipant opens the participant's file, created already, for
// calls made by owner.
func openParticipant(path, owner string) (*participant, error) {
	db, err := sql.Open("sqlite", participantDSN(path))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1) // one process, one connection: its calls queue here
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, err
	}
	return &participant{db: db, owner: owner}, nil
}

func (p *participant) Close() error { return p.db.Close() }

// tx runs fn in a write transaction. It does not end with ctx: a call
// that reached the participant is carried out, as a request on the wire
// would be; the caller decides whether to call.
func (p *participant) tx(fn func(tx *sql.Tx, now int64) error) error {
	tx, err := p.db.BeginTx(context.Background(), nil)
	if err != nil {
		return err
	}
	if err := fn(tx, time.Now().UnixNano()); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// causeOf says why ctx had ended, or "" if it had not.
func causeOf(ctx context.Context) string {
	if ctx.Err() == nil {
		return ""
	}
	return context.Cause(ctx).Error()
}

// take takes an action's effect under key, in tx: refused if step of run
// has a tombstone, a duplicate if key took effect already, else done.
func (p *participant) take(tx *sql.Tx, run, step, key string, now int64) (string, error) {
	var n int
	if err := tx.QueryRow(`SELECT count(*) FROM tombstones WHERE run = ? AND step = ?`, run, step).Scan(&n); err != nil {
		return "", err
	}
	if n > 0 {
		return outRefused, nil
	}
	res, err := tx.Exec(`INSERT INTO effects (key, run, step, owner, at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (key) DO NOTHING`, key, run, step, p.owner, now)
	if err != nil {
		return "", err
	}
	if n, err := res.RowsAffected(); err != nil {
		return "", err
	} else if n == 1 {
		return outDone, nil
	}
	return outDuplicate, nil
}

// do is an action's call with idempotency key key for step of run.
func (p *participant) do(ctx context.Context, run, step, key string) (outcome string, err error) {
	if run == "" || key == "" {
		return "", errors.New("participant: an action without run ID or idempotency key")
	}
	cause := causeOf(ctx)
	err = p.tx(func(tx *sql.Tx, now int64) error {
		var err error
		if outcome, err = p.take(tx, run, step, key, now); err != nil {
			return err
		}
		return p.record(tx, "do", run, step, key, outcome, cause, now)
	})
	return outcome, err
}

// undo is a compensation's call for step of run.
func (p *participant) undo(ctx context.Context, run, step string) (outcome string, err error) {
	if run == "" {
		return "", errors.New("participant: a compensation without run ID")
	}
	cause := causeOf(ctx)
	err = p.tx(func(tx *sql.Tx, now int64) error {
		res, err := tx.Exec(`UPDATE effects SET undone_by = ?, undone_at = ? WHERE run = ? AND step = ? AND undone_at = 0`,
			p.owner, now, run, step)
		if err != nil {
			return err
		}
		undone, err := res.RowsAffected()
		if err != nil {
			return err
		}
		res, err = tx.Exec(`INSERT INTO tombstones (run, step, owner, at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			run, step, p.owner, now)
		if err != nil {
			return err
		}
		tomb, err := res.RowsAffected()
		if err != nil {
			return err
		}
		switch {
		case undone > 0:
			outcome = outUndone
		case tomb > 0:
			outcome = outTombstone
		default:
			outcome = outAgain
		}
		return p.record(tx, "undo", run, step, "", outcome, cause, now)
	})
	return outcome, err
}

func (p *participant) record(tx *sql.Tx, kind, run, step, key, outcome, cause string, now int64) error {
	_, err := tx.Exec(`INSERT INTO calls (kind, run, step, key, owner, outcome, cause, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		kind, run, step, key, p.owner, outcome, cause, now)
	return err
}

// begin notes that an execution of step of run (an action or a
// compensation), named token, starts; if another one is in progress, the
// overlap is recorded. end notes that it is over.
func (p *participant) begin(run, step, token string) error {
	return p.tx(func(tx *sql.Tx, now int64) error {
		rows, err := tx.Query(`SELECT token FROM active WHERE run = ? AND step = ?`, run, step)
		if err != nil {
			return err
		}
		var others []string
		for rows.Next() {
			var o string
			if err := rows.Scan(&o); err != nil {
				rows.Close()
				return err
			}
			others = append(others, o)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, o := range others {
			if _, err := tx.Exec(`INSERT INTO overlaps (run, step, owner, other, at) VALUES (?, ?, ?, ?, ?)`,
				run, step, token, o, now); err != nil {
				return err
			}
		}
		_, err = tx.Exec(`INSERT INTO active (token, run, step, owner, at) VALUES (?, ?, ?, ?, ?)`, token, run, step, p.owner, now)
		return err
	})
}

func (p *participant) end(token string) error {
	return p.tx(func(tx *sql.Tx, _ int64) error {
		_, err := tx.Exec(`DELETE FROM active WHERE token = ?`, token)
		return err
	})
}

// effectRow is an effect the participant took.
type effectRow struct {
	key, run, step, owner string
	at                    int64
	undoneBy              string
	undoneAt              int64 // 0 while the effect stands
}

// callRow is a call the participant answered.
type callRow struct {
	kind, run, step, key, owner, outcome, cause string
	at                                          int64
}

// effects returns every effect, by run and step.
func (p *participant) effects() (map[runStep][]effectRow, error) {
	rows, err := p.db.Query(`SELECT key, run, step, owner, at, undone_by, undone_at FROM effects ORDER BY at`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	m := map[runStep][]effectRow{}
	for rows.Next() {
		var e effectRow
		if err := rows.Scan(&e.key, &e.run, &e.step, &e.owner, &e.at, &e.undoneBy, &e.undoneAt); err != nil {
			return nil, err
		}
		m[runStep{e.run, e.step}] = append(m[runStep{e.run, e.step}], e)
	}
	return m, rows.Err()
}

// calls returns every call, in the order they were answered.
func (p *participant) calls() ([]callRow, error) {
	rows, err := p.db.Query(`SELECT kind, run, step, key, owner, outcome, cause, at FROM calls ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []callRow
	for rows.Next() {
		var c callRow
		if err := rows.Scan(&c.kind, &c.run, &c.step, &c.key, &c.owner, &c.outcome, &c.cause, &c.at); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// overlap is two executions of one step of one run at once: token began
// while other was in progress.
type overlap struct {
	run, step, token, other string
}

func (o overlap) String() string {
	return fmt.Sprintf("%s/%s: %q began while %q was in progress", o.run, o.step, o.token, o.other)
}

// overlaps returns the overlapping executions found.
func (p *participant) overlaps() ([]overlap, error) {
	rows, err := p.db.Query(`SELECT run, step, owner, other FROM overlaps ORDER BY at`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []overlap
	for rows.Next() {
		var o overlap
		if err := rows.Scan(&o.run, &o.step, &o.token, &o.other); err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// tokens names the executions a process tells the participant of
// (participant.begin): owner, what, and a number unique in the process.
func tokens(owner string) func(what string) string {
	var n atomic.Int64
	return func(what string) string { return fmt.Sprintf("%s %s #%d", owner, what, n.Add(1)) }
}
