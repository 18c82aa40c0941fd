package streammanager

import (
	"context"
	"errors"
	"sync"
)

// errStopped is returned when work is handed to the manager before Run
// started it or after Run ended.
var errStopped = errors.New("stream manager is not running")

// tasks runs background work (creating and deleting instances, removing
// groups) that must outlive the call that asked for it (an API request, a
// scaler step) but not the manager: every task gets Run's context and run
// waits for all of them before it returns.
type tasks struct {
	submit chan func(context.Context)
	done   chan struct{} // closed when run stops accepting
}

func newTasks() *tasks {
	return &tasks{submit: make(chan func(context.Context)), done: make(chan struct{})}
}

// run accepts tasks until ctx ends, then waits for the running ones.
func (t *tasks) run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(t.done)
	for {
		select {
		case <-ctx.Done():
			return nil
		case f := <-t.submit:
			wg.Go(func() { f(ctx) })
		}
	}
}

// Go hands f to run; errStopped if run is not accepting any more, or
// ctx's error if ctx ends first.
func (t *tasks) Go(ctx context.Context, f func(context.Context)) error {
	select {
	case t.submit <- f:
		return nil
	case <-t.done:
		return errStopped
	case <-ctx.Done():
		return ctx.Err()
	}
}
