//go:build unix

// Command fleet shows a saga service running as several replicas on one
// PostgreSQL database, and a replica dying under load.
//
// A shop's front end (this program) starts orders with
// [durable.Definition.Start]: each is journaled as pending, keyed by its
// order number, and any worker may take it. Two worker processes (this
// program again, selected by the SAGAKIT_FLEET_WORKER environment
// variable) run [durable.Engine.Work] on the same database: they claim
// pending orders (woken by LISTEN/NOTIFY, not by polling) and drive them
// through reserve_stock, charge_card and ship. While they work, the front
// end kills the first worker with SIGKILL, in the middle of its steps.
// Its leases run out, and the second worker carries its orders on from
// their last journaled step; a step whose outcome the kill lost runs
// again under the same idempotency key, which the shop's services (a
// table with the key as its primary key) take once.
//
// The front end waits for every order with [durable.Engine.Wait] and
// checks that each ended once, with each step's effect taken once.
//
// Run it with a PostgreSQL server at SAGAKIT_POSTGRES_DSN (default
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable):
//
//	go run ./examples/fleet
//
// It works in a schema of its own (fleet_example), dropped at the end.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

const (
	dsnEnv     = "SAGAKIT_POSTGRES_DSN"
	workerEnv  = "SAGAKIT_FLEET_WORKER" // the worker's name; set for workers only
	schemaEnv  = "SAGAKIT_FLEET_SCHEMA"
	defaultDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
)

func main() {
	dsn := os.Getenv(dsnEnv)
	if dsn == "" {
		dsn = defaultDSN
	}
	if name := os.Getenv(workerEnv); name != "" {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
		defer stop()
		if err := worker(ctx, dsn, os.Getenv(schemaEnv), name); err != nil {
			fmt.Fprintln(os.Stderr, name+":", err)
			os.Exit(1)
		}
		return
	}
	if err := story(context.Background(), os.Stdout, dsn, "fleet_example", self); err != nil {
		fmt.Fprintln(os.Stderr, "fleet:", err)
		os.Exit(1)
	}
}

// self is this program, run again as a worker.
func self() (string, []string) { return os.Args[0], nil }
