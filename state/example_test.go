package state_test

import (
	"fmt"
	"sync"

	"github.com/sagakit/sagakit/state"
)

// Concurrent steps add to a shared total through a Cell.
func ExampleCell() {
	var total state.Cell[int]
	var wg sync.WaitGroup
	for _, price := range []int{120, 80, 45} {
		wg.Go(func() { total.Update(func(t int) int { return t + price }) })
	}
	wg.Wait()
	fmt.Println(total.Get())
	// Output: 245
}
