package e2e

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"
)

// user is one test client of one shared object, as an application holds
// it: a connection to some node (replaced by reconnecting), the client's
// copy of the object, and its writes. Like Flash's SharedObject, the copy
// takes the client's own value for a key when the server answers its
// write with Success, and other clients' values from Change events.
type user struct {
	name       string
	kind       kind
	scope, obj string
	persistent bool

	replies chan batch // batches with a success event, for write

	mu struct {
		sync.Mutex
		conn     soConn
		node     *node
		data     map[string]any
		version  uint64   // version of the last batch received
		maxVer   uint64   // highest version ever received
		inflight [][]kv   // writes sent and not answered, oldest first
		log      []batch  // every batch received, across connections
		connects []string // node of each connection
	}
}

func newUser(name string, k kind, scope, obj string, persistent bool) *user {
	u := &user{name: name, kind: k, scope: scope, obj: obj, persistent: persistent, replies: make(chan batch, 64)}
	u.mu.data = map[string]any{}
	return u
}

// connect connects to n and uses the object, replacing the connection the
// user had. It returns the version and data the use started with.
func (u *user) connect(ctx context.Context, n *node) (uint64, map[string]any, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	u.mu.Lock()
	old := u.mu.conn
	u.mu.conn = nil
	u.mu.inflight = nil // unanswered writes of the old connection stay unanswered
	u.mu.Unlock()
	if old != nil {
		old.close()
	}
	c, err := dial(ctx, u.kind, n, u.scope, u.obj, u.persistent, u.record)
	if err != nil {
		return 0, nil, fmt.Errorf("%s: %w", u.name, err)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	u.mu.conn, u.mu.node = c, n
	u.mu.connects = append(u.mu.connects, n.id)
	return u.mu.version, maps.Clone(u.mu.data), nil
}

// record applies a batch to the user's copy.
func (u *user) record(b batch) {
	u.mu.Lock()
	u.mu.log = append(u.mu.log, b)
	if b.version != 0 {
		u.mu.version = b.version
		u.mu.maxVer = max(u.mu.maxVer, b.version)
	}
	var answered []kv // the write this batch answers
	for _, e := range b.events {
		switch e.typ {
		case "use_success":
			clear(u.mu.data) // the state follows
		case "clear":
			clear(u.mu.data)
		case "change":
			u.mu.data[e.key] = e.value
		case "remove":
			delete(u.mu.data, e.key)
		case "success":
			if answered == nil {
				answered = u.takeInflight(e.key)
			}
			for _, s := range answered {
				if s.key != e.key {
					continue
				}
				if s.value == nil {
					delete(u.mu.data, e.key)
				} else {
					u.mu.data[e.key] = s.value
				}
			}
		}
	}
	u.mu.Unlock()
	if b.has("success") {
		select {
		case u.replies <- b:
		default: // nobody waits for so many; write matches keys
		}
	}
}

// takeInflight removes and returns the oldest unanswered write that sets
// key, dropping the older ones: their answers can no longer come.
func (u *user) takeInflight(key string) []kv {
	for i, w := range u.mu.inflight {
		if slices.ContainsFunc(w, func(s kv) bool { return s.key == key }) {
			u.mu.inflight = u.mu.inflight[i+1:]
			return w
		}
	}
	return []kv{}
}

var errNoReply = errors.New("no success within the timeout")

// send sends sets as one batch without waiting for the answer.
func (u *user) send(sets []kv) error {
	u.mu.Lock()
	c := u.mu.conn
	if c != nil {
		u.mu.inflight = append(u.mu.inflight, sets)
	}
	u.mu.Unlock()
	if c == nil {
		return errors.New("not connected")
	}
	return c.update(sets)
}

// message calls handler(args...) on every client of the object.
func (u *user) message(handler string, args ...any) error {
	u.mu.Lock()
	c := u.mu.conn
	u.mu.Unlock()
	if c == nil {
		return errors.New("not connected")
	}
	return c.message(handler, args)
}

// messages returns the first argument of every message with handler the
// user received, in order.
func (u *user) messages(handler string) []any {
	u.mu.Lock()
	defer u.mu.Unlock()
	var out []any
	for _, b := range u.mu.log {
		for _, e := range b.events {
			if e.typ == "message" && e.key == handler {
				args, _ := e.value.([]any)
				if len(args) > 0 {
					out = append(out, args[0])
				} else {
					out = append(out, nil)
				}
			}
		}
	}
	return out
}

// write sends sets as one batch and waits for the Success of sets[0].key
// (sets[0] must set a value), returning the version of the answer.
func (u *user) write(ctx context.Context, sets []kv, timeout time.Duration) (uint64, error) {
	if err := u.send(sets); err != nil {
		return 0, fmt.Errorf("send: %w", err)
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		select {
		case b := <-u.replies:
			if slices.ContainsFunc(b.events, func(e event) bool { return e.typ == "success" && e.key == sets[0].key }) {
				return b.version, nil
			}
		case <-deadline.C:
			return 0, errNoReply
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// unanswered is the number of writes sent on the current connection and
// not answered yet.
func (u *user) unanswered() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.mu.inflight)
}

// probe fails if the user's connection no longer works.
func (u *user) probe(ctx context.Context) error {
	u.mu.Lock()
	c := u.mu.conn
	u.mu.Unlock()
	if c == nil {
		return errors.New("not connected")
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	return c.probe(ctx)
}

func (u *user) node() *node {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.mu.node
}

// data returns a copy of the user's copy of the object.
func (u *user) data() map[string]any {
	u.mu.Lock()
	defer u.mu.Unlock()
	return maps.Clone(u.mu.data)
}

// version is the version of the last batch received.
func (u *user) version() uint64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.mu.version
}

// versionWentBack returns an error for the first batch the user received
// at a lower version than an earlier one (version 0, for errors outside
// any batch, does not count).
func (u *user) versionWentBack() error {
	var seen uint64
	for _, b := range u.batches() {
		if b.version != 0 && b.version < seen {
			return fmt.Errorf("%s: version went from %d to %d", u.name, seen, b.version)
		}
		seen = max(seen, b.version)
	}
	return nil
}

// maxVersion is the highest version the user ever received.
func (u *user) maxVersion() uint64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.mu.maxVer
}

// batches returns a copy of the received batches.
func (u *user) batches() []batch {
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.Clone(u.mu.log)
}

// connects returns the node of each connection the user made.
func (u *user) connects() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.Clone(u.mu.connects)
}

func (u *user) close() {
	u.mu.Lock()
	c := u.mu.conn
	u.mu.conn = nil
	u.mu.Unlock()
	if c != nil {
		c.close()
	}
}
