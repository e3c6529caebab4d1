package durable_test

import (
	"context"
	"encoding/json"
	"sync"

	"github.com/sagakit/sagakit/journal"
	"github.com/sagakit/sagakit/retry"
)

func jsonDecode(data []byte, v any) error { return json.Unmarshal(data, v) }

// countingStore counts writes.
type countingStore struct {
	journal.Store
	mu               sync.Mutex
	creates, appends int
}

func (s *countingStore) Create(ctx context.Context, run journal.Run, entries ...journal.Entry) error {
	s.mu.Lock()
	s.creates++
	s.mu.Unlock()
	return s.Store.Create(ctx, run, entries...)
}

func (s *countingStore) Append(ctx context.Context, id, owner string, u journal.Update, entries ...journal.Entry) error {
	s.mu.Lock()
	s.appends++
	s.mu.Unlock()
	return s.Store.Append(ctx, id, owner, u, entries...)
}

var retryOnce = retry.Policy{}

func jsonEncode(v any) ([]byte, error) { return json.Marshal(v) }
