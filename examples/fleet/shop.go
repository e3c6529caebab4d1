//go:build unix

package main

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sagakit/sagakit/durable"
	"github.com/sagakit/sagakit/saga"
)

// Order is the saga's state.
type Order struct {
	Number  string
	Payment string // set by charge_card
}

// shop is the outside world the steps change: the warehouse, the bank
// and the courier, all one table of effects whose primary key is the
// step's idempotency key, so that a step run again after a crash under
// the same key takes effect once.
type shop struct {
	db     *pgxpool.Pool
	schema string
}

// effect records that step took effect for the order, once per key.
func (s *shop) effect(ctx context.Context, o *Order, step string) error {
	time.Sleep(20 * time.Millisecond) // the service's own latency
	_, err := s.db.Exec(ctx, `INSERT INTO `+s.schema+`.effects (key, order_number, step) VALUES ($1, $2, $3)
		ON CONFLICT (key) DO NOTHING`, durable.IdempotencyKey(ctx), o.Number, step)
	return err
}

// undo removes a step's effect: the orders of this story all succeed,
// but a saga without compensations would not be a saga.
func (s *shop) undo(ctx context.Context, o *Order, step string) error {
	_, err := s.db.Exec(ctx, `DELETE FROM `+s.schema+`.effects WHERE order_number = $1 AND step = $2`, o.Number, step)
	return err
}

func (s *shop) saga() *saga.Saga[Order] {
	step := func(name string) func(context.Context, *Order) error {
		return func(ctx context.Context, o *Order) error {
			if name == "charge_card" {
				o.Payment = "pay-" + o.Number
			}
			return s.effect(ctx, o, name)
		}
	}
	undo := func(name string) func(context.Context, *Order) error {
		return func(ctx context.Context, o *Order) error { return s.undo(ctx, o, name) }
	}
	return saga.New[Order]().Name("order").
		Step("reserve_stock", step("reserve_stock"), undo("reserve_stock"), saga.Idempotent()).
		Step("charge_card", step("charge_card"), undo("charge_card"), saga.Idempotent()).
		Step("ship", step("ship"), undo("ship"), saga.Idempotent()).
		Build()
}

// createTables makes the shop's table in schema.
func createTables(ctx context.Context, db *pgxpool.Pool, schema string) error {
	_, err := db.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+schema+`;
		CREATE TABLE IF NOT EXISTS `+schema+`.effects (
			key text PRIMARY KEY, order_number text NOT NULL, step text NOT NULL)`)
	if err != nil {
		return fmt.Errorf("create the shop's table: %w", err)
	}
	return nil
}
