package sharedobject_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/shoal-live/shoal/internal/rtmp/amf"
	"github.com/shoal-live/shoal/internal/rtmp/somsg"
	so "github.com/shoal-live/shoal/internal/sharedobject"
	"github.com/shoal-live/shoal/internal/sharedobject/sharedobjecttest"
)

// checkFor calls fn every interval until it returns nil, failing the test
// with fn's last error after timeout.
func checkFor(t testing.TB, timeout, interval time.Duration, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %v", timeout, err)
		}
		time.Sleep(interval)
	}
}

// checkNoLeaks fails the test if goroutines of package sharedobject are
// still running once the test and its cleanups are done. Call it first,
// so its cleanup runs last.
func checkNoLeaks(t *testing.T) {
	t.Helper()
	t.Cleanup(func() {
		checkFor(t, 5*time.Second, 10*time.Millisecond, func() error {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			var leaked []string
			for _, g := range strings.Split(string(buf), "\n\n") {
				if strings.Contains(g, "shoal/internal/sharedobject") && !strings.Contains(g, "testing.tRunner") {
					leaked = append(leaked, g)
				}
			}
			if len(leaked) > 0 {
				return fmt.Errorf("%d goroutines leaked:\n%s", len(leaked), strings.Join(leaked, "\n\n"))
			}
			return nil
		})
	})
}

func discardLogger() *slog.Logger {
	if os.Getenv("SO_DEBUG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// cluster is a set of Managers (nodes) sharing one log and presence.
type cluster struct {
	log      *sharedobjecttest.Log
	presence *so.LocalPresence
}

func newCluster() *cluster {
	return &cluster{log: sharedobjecttest.NewLog(), presence: so.NewLocalPresence()}
}

// start runs a Manager until the test ends.
func (c *cluster) start(t *testing.T, cfg so.Config) *so.Manager {
	t.Helper()
	if cfg.NodeID == "" {
		cfg.NodeID = "node-a"
	}
	return startWith(t, so.New(cfg, c.log, c.presence, discardLogger()))
}

// startWith runs m until the test ends.
func startWith(t *testing.T, m *so.Manager) *so.Manager {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return m
}

// delivery is one Deliver call.
type delivery struct {
	Version uint64
	Events  []so.Event
}

// client records deliveries and keeps the object's data as a Flash client
// would, checking that versions never go backwards.
type client struct {
	name string
	conn so.ConnInfo

	mu      sync.Mutex
	got     []delivery
	data    map[string]any
	version uint64
	errs    []error
	// writes are the values of this client's RequestChanges in flight, per
	// key: a client applies its own write when the Success comes, in the
	// object's order.
	writes map[string][]any
}

func newClient(name string) *client {
	return &client{name: name, conn: so.ConnInfo{ID: name, Transport: "test"}, data: map[string]any{}, writes: map[string][]any{}}
}

func (c *client) Deliver(_ so.ObjectID, version uint64, events []so.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got = append(c.got, delivery{Version: version, Events: events})
	isStatus := len(events) > 0 && events[0].Type == somsg.Status
	if version < c.version && (version != 0 || !isStatus) {
		c.errs = append(c.errs, fmt.Errorf("%s: version went from %d to %d", c.name, c.version, version))
	}
	if version > 0 {
		c.version = version
	}
	for _, ev := range events {
		switch ev.Type {
		case somsg.Clear:
			clear(c.data)
		case somsg.Change:
			c.data[ev.Key] = ev.Value
		case somsg.Remove:
			delete(c.data, ev.Key)
		case somsg.Success:
			w := c.writes[ev.Key]
			if len(w) == 0 {
				c.errs = append(c.errs, fmt.Errorf("%s: Success for %q it did not write", c.name, ev.Key))
				continue
			}
			if w[0] == nil {
				delete(c.data, ev.Key)
			} else {
				c.data[ev.Key] = w[0]
			}
			c.writes[ev.Key] = w[1:]
		}
	}
}

// sent records the writes of a message c is about to submit.
func (c *client) sent(reqs []so.Request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range reqs {
		if r.Type == somsg.RequestChange {
			c.writes[r.Key] = append(c.writes[r.Key], r.Value)
		}
	}
}

// take returns the deliveries so far and forgets them.
func (c *client) take() []delivery {
	c.mu.Lock()
	defer c.mu.Unlock()
	got := c.got
	c.got = nil
	return got
}

// wait returns the next n deliveries once they arrived.
func (c *client) wait(t *testing.T, n int) []delivery {
	t.Helper()
	checkFor(t, 5*time.Second, time.Millisecond, func() error {
		c.mu.Lock()
		defer c.mu.Unlock()
		if len(c.got) < n {
			return fmt.Errorf("%s got %d deliveries, want %d: %+v", c.name, len(c.got), n, c.got)
		}
		return nil
	})
	c.mu.Lock()
	defer c.mu.Unlock()
	got := c.got[:n:n]
	c.got = c.got[n:]
	return got
}

func (c *client) snapshot() (map[string]any, uint64, []error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	data := make(map[string]any, len(c.data))
	for k, v := range c.data {
		data[k] = v
	}
	return data, c.version, c.errs
}

// use makes c a client of id on m and returns its initial delivery.
func (c *client) use(t *testing.T, m *so.Manager, id so.ObjectID) delivery {
	t.Helper()
	if err := m.Use(t.Context(), id, c, c.conn); err != nil {
		t.Fatalf("Use(%s): %v", id, err)
	}
	return c.wait(t, 1)[0]
}

func (c *client) submit(t *testing.T, m *so.Manager, id so.ObjectID, reqs ...so.Request) {
	t.Helper()
	c.sent(reqs)
	if err := m.Submit(t.Context(), id, c, c.conn, reqs); err != nil {
		t.Fatalf("Submit(%s, %+v): %v", id, reqs, err)
	}
}

func set(key string, v any) so.Request {
	return so.Request{Type: somsg.RequestChange, Key: key, Value: v}
}

func remove(key string) so.Request { return so.Request{Type: somsg.RequestRemove, Key: key} }

func send(handler string, args ...any) so.Request {
	return so.Request{Type: somsg.SendMessage, Handler: handler, Args: args}
}

// eventOpts compare events with AMF values by content.
var eventOpts = cmp.Options{
	cmp.FilterPath(func(p cmp.Path) bool {
		return p.Last().Type() == anyType
	}, cmp.Comparer(amf.Equal)),
	cmpopts.IgnoreFields(so.Event{}, "Description"),
	cmpopts.EquateEmpty(),
}

var anyType = reflect.TypeFor[any]()

func wantDeliveries(t *testing.T, who string, got []delivery, want ...delivery) {
	t.Helper()
	if diff := cmp.Diff(want, got, eventOpts); diff != "" {
		t.Errorf("%s deliveries mismatch (-want +got):\n%s", who, diff)
	}
}

func ev(typ somsg.EventType) so.Event { return so.Event{Type: typ} }

func change(key string, v any) so.Event { return so.Event{Type: somsg.Change, Key: key, Value: v} }

func success(key string) so.Event { return so.Event{Type: somsg.Success, Key: key} }

func removed(key string) so.Event { return so.Event{Type: somsg.Remove, Key: key} }

func status(code string) so.Event {
	return so.Event{Type: somsg.Status, Code: code, Level: somsg.LevelError}
}

func message(handler string, args ...any) so.Event {
	return so.Event{Type: somsg.SendMessage, Handler: handler, Args: args}
}
