// Package postgres is a [journal.Store] on PostgreSQL, for fleets.
package postgres
