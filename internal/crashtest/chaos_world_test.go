//go:build unix

package crashtest

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// The chaos campaign's outside world (chaos_test.go): the participant's
// SQLite file (participant_test.go) with tables of its own, an execution
// ledger that every process of the campaign writes and the checker reads.
//
//   - chaos_effects: every effect an action took, with its idempotency
//     key. An idempotent step's effect is taken once per key (a repeat is
//     answered "duplicate"); a step that is not idempotent takes an effect
//     at every call, as a service that knows no keys would, so that a
//     second execution under one key shows as two effects of that key.
//   - chaos_tombstones: the steps a compensation reached; an action that
//     finds one is refused (it arrived after its compensation).
//   - chaos_execs: every execution of an action or a compensation that
//     returned, with its process, key, outcome and times (begin, end),
//     written with its effect in one transaction. An execution cut off by
//     its process's death is not recorded; one that stopped before its
//     effect (its context ended, it waits, it failed as planned) is
//     recorded without one.

var chaosSchema = []string{
	`CREATE TABLE IF NOT EXISTS chaos_effects (
		id        INTEGER PRIMARY KEY AUTOINCREMENT,
		key       TEXT    NOT NULL,
		run       TEXT    NOT NULL,
		step      TEXT    NOT NULL,
		owner     TEXT    NOT NULL,
		at        INTEGER NOT NULL,
		undone_at INTEGER NOT NULL DEFAULT 0)`,
	`CREATE INDEX IF NOT EXISTS chaos_effects_key ON chaos_effects (key)`,
	`CREATE INDEX IF NOT EXISTS chaos_effects_step ON chaos_effects (run, step)`,
	`CREATE TABLE IF NOT EXISTS chaos_tombstones (
		run  TEXT NOT NULL,
		step TEXT NOT NULL,
		PRIMARY KEY (run, step))`,
	`CREATE TABLE IF NOT EXISTS chaos_execs (
		id      INTEGER PRIMARY KEY AUTOINCREMENT,
		run     TEXT    NOT NULL,
		step    TEXT    NOT NULL,
		kind    TEXT    NOT NULL, -- do, undo
		key     TEXT    NOT NULL,
		owner   TEXT    NOT NULL,
		outcome TEXT    NOT NULL,
		began   INTEGER NOT NULL,
		ended   INTEGER NOT NULL)`,
}

// The outcomes of executions that took no effect.
const (
	outFailed    = "failed"    // the action failed as planned
	outStopped   = "stopped"   // its context ended first
	outSuspended = "suspended" // it waits for an event or a timer
	outTimedOut  = "timed_out" // its wait timed out
	// outDead: its context had ended (the lease lost) when it began: the
	// driver called a step it no longer held, and the step did nothing.
	outDead = "dead"
)

// createChaosParticipant creates the participant's file with the
// campaign's tables.
func createChaosParticipant(path string) error {
	if err := createParticipant(path); err != nil {
		return err
	}
	db, err := sql.Open("sqlite", participantDSN(path))
	if err != nil {
		return err
	}
	defer db.Close()
	for _, s := range chaosSchema {
		if _, err := db.Exec(s); err != nil {
			return err
		}
	}
	return nil
}

// chaosExec records an execution of step of run (kind "do" or "undo"),
// which began at began, in tx.
func (p *participant) chaosExec(tx *sql.Tx, run, step, kind, key, outcome string, began, now int64) error {
	_, err := tx.Exec(`INSERT INTO chaos_execs (run, step, kind, key, owner, outcome, began, ended) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		run, step, kind, key, p.owner, outcome, began, now)
	return err
}

// chaosAct is an action's call under key, with its execution's record:
// refused if the step has a tombstone; for an idempotent step, a
// duplicate if key took effect before; else done.
func (p *participant) chaosAct(run, step, key string, idempotent bool, began int64) (outcome string, err error) {
	err = p.tx(func(tx *sql.Tx, now int64) error {
		outcome = ""
		var n int
		if err := tx.QueryRow(`SELECT count(*) FROM chaos_tombstones WHERE run = ? AND step = ?`, run, step).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			outcome = outRefused
		} else if idempotent {
			if err := tx.QueryRow(`SELECT count(*) FROM chaos_effects WHERE key = ?`, key).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				outcome = outDuplicate
			}
		}
		if outcome == "" {
			outcome = outDone
			if _, err := tx.Exec(`INSERT INTO chaos_effects (key, run, step, owner, at) VALUES (?, ?, ?, ?, ?)`,
				key, run, step, p.owner, now); err != nil {
				return err
			}
		}
		return p.chaosExec(tx, run, step, "do", key, outcome, began, now)
	})
	return outcome, err
}

// chaosUndo is a compensation's call for step of run: it undoes the
// step's effects standing and leaves a tombstone, with its execution's
// record.
func (p *participant) chaosUndo(run, step, key string, began int64) (outcome string, err error) {
	err = p.tx(func(tx *sql.Tx, now int64) error {
		res, err := tx.Exec(`UPDATE chaos_effects SET undone_at = ? WHERE run = ? AND step = ? AND undone_at = 0`, now, run, step)
		if err != nil {
			return err
		}
		undone, err := res.RowsAffected()
		if err != nil {
			return err
		}
		res, err = tx.Exec(`INSERT INTO chaos_tombstones (run, step) VALUES (?, ?) ON CONFLICT DO NOTHING`, run, step)
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
		return p.chaosExec(tx, run, step, "undo", key, outcome, began, now)
	})
	return outcome, err
}

// chaosExecuted records an execution that took no effect.
func (p *participant) chaosExecuted(run, step, kind, key, outcome string, began int64) error {
	return p.tx(func(tx *sql.Tx, now int64) error {
		return p.chaosExec(tx, run, step, kind, key, outcome, began, now)
	})
}

// persist calls fn until it succeeds or ctx ends: the participant's file
// shares the disk faults of the process (chaos_test.go), which a step
// rides out as it would a service's brief outage, retrying.
func persist(ctx context.Context, fn func() error) error {
	for {
		err := fn()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return errors.Join(context.Cause(ctx), err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// chaosEffect is an effect row of chaos_effects.
type chaosEffect struct {
	key, run, step, owner string
	at, undoneAt          int64
}

// chaosExecRow is an execution row of chaos_execs.
type chaosExecRow struct {
	run, step, kind, key, owner, outcome string
	began, ended                         int64
}

// chaosWorld reads the ledger: effects and executions by run.
func (p *participant) chaosWorld() (map[string][]chaosEffect, map[string][]chaosExecRow, error) {
	effects := map[string][]chaosEffect{}
	rows, err := p.db.Query(`SELECT key, run, step, owner, at, undone_at FROM chaos_effects ORDER BY id`)
	if err != nil {
		return nil, nil, err
	}
	for rows.Next() {
		var e chaosEffect
		if err := rows.Scan(&e.key, &e.run, &e.step, &e.owner, &e.at, &e.undoneAt); err != nil {
			rows.Close()
			return nil, nil, err
		}
		effects[e.run] = append(effects[e.run], e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	execs := map[string][]chaosExecRow{}
	rows, err = p.db.Query(`SELECT run, step, kind, key, owner, outcome, began, ended FROM chaos_execs ORDER BY began`)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var x chaosExecRow
		if err := rows.Scan(&x.run, &x.step, &x.kind, &x.key, &x.owner, &x.outcome, &x.began, &x.ended); err != nil {
			return nil, nil, err
		}
		execs[x.run] = append(execs[x.run], x)
	}
	return effects, execs, rows.Err()
}
