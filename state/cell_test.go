package state_test

import (
	"encoding/json"
	"slices"
	"sync"
	"testing"

	"github.com/matryer/is"

	"github.com/sagakit/sagakit/state"
)

func TestCellConcurrentUpdates(t *testing.T) {
	is := is.New(t)
	var c state.Cell[int]
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() { c.Update(func(n int) int { return n + 1 }) })
	}
	wg.Wait()
	is.Equal(c.Get(), 100)
}

func TestCellWithAndSet(t *testing.T) {
	is := is.New(t)
	var c state.Cell[[]string]
	var wg sync.WaitGroup
	for _, s := range []string{"flight", "hotel", "car"} {
		wg.Go(func() { c.With(func(b *[]string) { *b = append(*b, s) }) })
	}
	wg.Wait()
	got := c.Get()
	slices.Sort(got)
	is.Equal(got, []string{"car", "flight", "hotel"})
	c.Set(nil)
	is.Equal(len(c.Get()), 0)
}

func TestCellJSON(t *testing.T) {
	is := is.New(t)
	type trip struct {
		ID     string
		Booked state.Cell[[]string]
	}
	var tr trip
	tr.ID = "t1"
	tr.Booked.Set([]string{"flight"})
	data, err := json.Marshal(&tr)
	is.NoErr(err)
	is.Equal(string(data), `{"ID":"t1","Booked":["flight"]}`)
	var back trip
	is.NoErr(json.Unmarshal(data, &back))
	is.Equal(back.Booked.Get(), []string{"flight"})
}
