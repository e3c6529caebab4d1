//go:build unix

package crashtest

import (
	"context"
	"database/sql"
	"errors"
)

// The drain saga's steps call the participant once each: the check of the
// key, the effect and the record of the execution (when it began and
// ended) in one transaction, so that a step costs the outside world one
// write, and thousands of runs do not measure the participant more than
// the fleet. The executions table stands for the participant's begin and
// end: two executions of one step of one run whose times overlap are
// found by whichever of the two is recorded second (an overlap, as begin
// finds them). An execution a process never finished, because it died,
// is not recorded; one that stopped before its effect (its context ended)
// is recorded without one.

var drainSchema = []string{
	`CREATE TABLE IF NOT EXISTS executions (
		token TEXT    NOT NULL PRIMARY KEY,
		run   TEXT    NOT NULL,
		step  TEXT    NOT NULL,
		owner TEXT    NOT NULL,
		began INTEGER NOT NULL,
		ended INTEGER NOT NULL)`,
	`CREATE INDEX IF NOT EXISTS executions_step ON executions (run, step)`,
}

// createDrainParticipant creates the participant's file with the
// executions table.
func createDrainParticipant(path string) error {
	if err := createParticipant(path); err != nil {
		return err
	}
	db, err := sql.Open("sqlite", participantDSN(path))
	if err != nil {
		return err
	}
	defer db.Close()
	for _, s := range drainSchema {
		if _, err := db.Exec(s); err != nil {
			return err
		}
	}
	return nil
}

// act is do for the execution token of step of run, which began at
// began (Unix nanoseconds), recorded with its outcome in one transaction.
func (p *participant) act(ctx context.Context, run, step, key, token string, began int64) (outcome string, err error) {
	if run == "" || key == "" {
		return "", errors.New("participant: an action without run ID or idempotency key")
	}
	cause := causeOf(ctx)
	err = p.tx(func(tx *sql.Tx, now int64) error {
		var err error
		if outcome, err = p.take(tx, run, step, key, now); err != nil {
			return err
		}
		if err := p.record(tx, "do", run, step, key, outcome, cause, now); err != nil {
			return err
		}
		return p.execution(tx, run, step, token, began, now)
	})
	return outcome, err
}

// executed records an execution that stopped before its effect.
func (p *participant) executed(run, step, token string, began int64) error {
	return p.tx(func(tx *sql.Tx, now int64) error { return p.execution(tx, run, step, token, began, now) })
}

// execution records the execution token, from began to now, and an
// overlap with each execution of the same step of the same run recorded
// before whose time meets its own.
func (p *participant) execution(tx *sql.Tx, run, step, token string, began, now int64) error {
	rows, err := tx.Query(`SELECT token FROM executions WHERE run = ? AND step = ? AND began <= ? AND ended >= ?`,
		run, step, now, began)
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
	_, err = tx.Exec(`INSERT INTO executions (token, run, step, owner, began, ended) VALUES (?, ?, ?, ?, ?, ?)`,
		token, run, step, p.owner, began, now)
	return err
}
