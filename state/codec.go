package state

import (
	"encoding/json"
	"fmt"
)

// Codec turns a saga's state into bytes and back, for durable journals: a
// journaled run keeps a snapshot of its state after every step, and a run
// resumed after a crash starts from the last one. S is the saga state
// type. A Codec must be safe for concurrent use.
type Codec[S any] interface {
	// Encode returns the snapshot of *state.
	Encode(state *S) ([]byte, error)
	// Decode sets *state from a snapshot made by Encode.
	Decode(data []byte, state *S) error
}

// JSON is the default [Codec]: encoding/json, so the state's exported
// fields (and their json tags) are what survives. Its zero value is ready
// to use.
type JSON[S any] struct{}

// Encode marshals *state to JSON.
func (JSON[S]) Encode(state *S) ([]byte, error) {
	b, err := json.Marshal(state)
	if err != nil {
		return nil, fmt.Errorf("state: encode %T: %w", state, err)
	}
	return b, nil
}

// Decode unmarshals data into *state.
func (JSON[S]) Decode(data []byte, state *S) error {
	if err := json.Unmarshal(data, state); err != nil {
		return fmt.Errorf("state: decode %T: %w", state, err)
	}
	return nil
}
