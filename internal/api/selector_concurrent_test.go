package api

import (
	"sync"
	"testing"
)

// TestSelectConcurrent selects from many goroutines at once. Each answer
// changes the pending load that scores depend on, which once made the tie
// rotation lose its candidate and panic.
func TestSelectConcurrent(t *testing.T) {
	_, sel, keys := benchFleet(t)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				k := keys[(g*500+i)%len(keys)]
				nodes, err := sel.Select(t.Context(), Query{Action: ActionSubscribe, Scope: k[0], Name: k[1], Endpoints: 1})
				if err != nil || len(nodes) != 1 {
					t.Errorf("Select(%v) = %v, %v", k, nodes, err)
					return
				}
			}
		})
	}
	wg.Wait()
}
