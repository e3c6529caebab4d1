package sagatest_test

import (
	"errors"
	"sync"
	"testing"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/sagatest"
)

func TestParticipantOnceAndTombstones(t *testing.T) {
	is := is.New(t)
	var p sagatest.Participant
	is.NoErr(p.Do("r/a/1"))
	is.NoErr(p.Do("r/a/1")) // a repeat: answered as done
	is.Equal(p.Status("r/a/1"), sagatest.Done)
	is.Equal(p.InEffect("r/"), []string{"r/a/1"})
	is.NoErr(p.Undo("r/a/1"))
	is.NoErr(p.Undo("r/a/1"))
	is.Equal(p.Status("r/a/1"), sagatest.Undone)
	does, undos := p.Calls("r/a/1")
	is.Equal([]int{does, undos}, []int{2, 2})

	is.NoErr(p.Undo("r/b/1")) // the compensation comes first
	is.Equal(p.Status("r/b/1"), sagatest.Tombstoned)
	is.True(errors.Is(p.Do("r/b/1"), sagatest.ErrTombstoned)) // the late action is refused
	is.Equal(p.InEffect("r/"), []string(nil))
	is.Equal(p.Status("nope"), sagatest.Unseen)
	is.Equal(sagatest.Tombstoned.String(), "tombstoned")
	is.NoErr(p.Err())
}

func TestParticipantProblems(t *testing.T) {
	is := is.New(t)
	var p sagatest.Participant
	is.True(p.Do("") != nil)
	release := p.Hold("r/a/1")
	p.Hold("r/a/1")() // a second driver, at once
	release()
	p.Hold("r/a/1")() // after: fine
	err := p.Err()
	is.True(err != nil)
	is.Equal(err.Error(), `sagatest: Do called without an idempotency key; 2 calls for key "r/a/1" at once`)
}

func TestParticipantConcurrent(t *testing.T) {
	is := is.New(t)
	var p sagatest.Participant
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { _ = p.Do("r/a/1") })
		wg.Go(func() { _ = p.Undo("r/b/1") })
	}
	wg.Wait()
	does, _ := p.Calls("r/a/1")
	is.Equal(does, 8)
	is.Equal(p.Status("r/a/1"), sagatest.Done)
	is.Equal(p.Status("r/b/1"), sagatest.Tombstoned)
}
