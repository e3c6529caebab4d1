package postgres_test

import (
	"testing"
	"time"

	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/journal/journaltest"
	"github.com/sagakit/sagakit/journal/postgres"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	journaltest.Run(t, func(t *testing.T, now func() time.Time) journal.Store {
		return newStore(t, postgres.WithNow(now))
	})
}

func TestConformanceNoGroupCommit(t *testing.T) {
	t.Parallel()
	journaltest.Run(t, func(t *testing.T, now func() time.Time) journal.Store {
		return newStore(t, postgres.WithNow(now), postgres.WithBatchSize(1))
	})
}
