//go:build unix

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/journal/postgres"
	"github.com/sagakit/sagakit/saga"
)

const (
	orders   = 60
	leaseTTL = 2 * time.Second // short, so that the story does not wait long
)

// replica is what every process opens: the journal, the shop, and an
// engine with the order saga registered.
type replica struct {
	db     *pgxpool.Pool
	store  *postgres.Store
	engine *durable.Engine
	def    *durable.Definition[Order]
}

func open(ctx context.Context, dsn, schema, name string) (*replica, error) {
	db, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return nil, err
	}
	store, err := postgres.New(ctx, db, postgres.WithSchema(schema))
	if err != nil {
		db.Close()
		return nil, err
	}
	engine := durable.NewEngine(store, durable.WithOwner(name), durable.WithLeaseTTL(leaseTTL), durable.WithConcurrency(8))
	def, err := durable.Register(engine, (&shop{db: db, schema: schema}).saga())
	if err != nil {
		store.Close()
		db.Close()
		return nil, err
	}
	return &replica{db: db, store: store, engine: engine, def: def}, nil
}

func (r *replica) close() {
	r.store.Close()
	r.db.Close()
}

// worker drives orders until ctx ends (SIGTERM), then stops at a step
// boundary, leaving its runs to the others.
func worker(ctx context.Context, dsn, schema, name string) error {
	r, err := open(ctx, dsn, schema, name)
	if err != nil {
		return err
	}
	defer r.close()
	if err := r.engine.Work(ctx, time.Second); !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// story is the front end: it starts the orders, two workers, kills one,
// waits for every order and checks the shop.
func story(ctx context.Context, w io.Writer, dsn, schema string, command func() (string, []string)) error {
	if err := reset(ctx, dsn, schema); err != nil {
		return err
	}
	defer reset(context.WithoutCancel(ctx), dsn, schema)
	front, err := open(ctx, dsn, schema, "front-end")
	if err != nil {
		return err
	}
	defer front.close()
	if err := createTables(ctx, front.db, schema); err != nil {
		return err
	}

	w1, err := spawn(dsn, schema, "worker-1", command)
	if err != nil {
		return err
	}
	defer w1.Process.Kill()
	w2, err := spawn(dsn, schema, "worker-2", command)
	if err != nil {
		return err
	}
	defer w2.Process.Kill()

	ids := make([]string, orders)
	for i := range ids {
		number := fmt.Sprintf("order-%03d", i+1)
		ids[i], err = front.def.Start(saga.WithRunID(ctx, number), &Order{Number: number})
		if err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "The front end started %d orders; two workers take them.\n", orders)

	// Kill worker-1 in the middle of its work.
	if err := until(ctx, func() (bool, error) {
		done, err := front.store.List(ctx, journal.Filter{Status: []journal.Status{journal.Succeeded}})
		return len(done) >= orders/4, err
	}); err != nil {
		return err
	}
	inFlight, err := front.store.List(ctx, journal.Filter{Status: []journal.Status{journal.Running}})
	if err != nil {
		return err
	}
	held := 0
	for _, r := range inFlight {
		if r.LeaseOwner == "worker-1" {
			held++
		}
	}
	if err := w1.Process.Signal(syscall.SIGKILL); err != nil {
		return err
	}
	werr := w1.Wait()
	fmt.Fprintf(w, "worker-1 was killed mid-step (%v), holding %d orders.\n", werr, held)

	failed := 0
	for _, id := range ids {
		rep, err := front.engine.Wait(ctx, id)
		if err != nil {
			failed++
			fmt.Fprintf(w, "%s: %s: %v\n", id, rep.Status, err)
		}
	}
	fmt.Fprintf(w, "All %d orders ended: %d succeeded, %d did not.\n", orders, orders-failed, failed)

	var effects, distinct int
	err = front.db.QueryRow(ctx, `SELECT count(*), count(DISTINCT (order_number, step)) FROM `+schema+`.effects`).Scan(&effects, &distinct)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "The shop holds %d effects for %d order steps: each step took effect once.\n", effects, distinct)
	if effects != distinct || distinct != 3*orders {
		return fmt.Errorf("the shop holds %d effects for %d order steps, want %d each", effects, distinct, 3*orders)
	}

	_ = w2.Process.Signal(syscall.SIGTERM) // graceful: worker-2 stops at a step boundary
	if err := w2.Wait(); err != nil {
		return fmt.Errorf("worker-2: %w", err)
	}
	fmt.Fprintln(w, "worker-2 stopped gracefully.")
	if failed > 0 {
		return fmt.Errorf("%d orders did not succeed", failed)
	}
	return nil
}

// spawn starts a worker process.
func spawn(dsn, schema, name string, command func() (string, []string)) (*exec.Cmd, error) {
	path, args := command()
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), workerEnv+"="+name, dsnEnv+"="+dsn, schemaEnv+"="+schema)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	return cmd, nil
}

// until polls cond every 20ms until it holds, fails, or a minute passed.
func until(ctx context.Context, cond func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		ok, err := cond()
		if ok || err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// reset drops the story's schema, journal and shop alike.
func reset(ctx context.Context, dsn, schema string) error {
	db, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.Exec(ctx, `DROP SCHEMA IF EXISTS `+schema+` CASCADE`)
	return err
}
