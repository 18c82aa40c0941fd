package sharedobject

import (
	"context"
	"errors"
	"sync"
)

// ObjectID names a shared object. An object is unique per (Scope, Name);
// Persistent is its kind, which a client states when it uses the object and
// which the log may use to pick storage (file for persistent objects,
// memory for transient ones).
type ObjectID struct {
	Scope      string // application and room path: "app" or "app/room/..."
	Name       string
	Persistent bool
}

// other returns the same name with the other persistence.
func (id ObjectID) other() ObjectID {
	id.Persistent = !id.Persistent
	return id
}

func (id ObjectID) key() objKey { return objKey{scope: id.Scope, name: id.Name} }

// objKey identifies an object whatever its persistence.
type objKey struct{ scope, name string }

// Log is the ordered, durable change log of shared objects: one order per
// object. package cluster implements it on JetStream.
type Log interface {
	// Append stores data durably at the end of the object's order. It
	// returns after the store acknowledged it.
	Append(ctx context.Context, obj ObjectID, data []byte) (seq uint64, err error)
	// AppendAsync stores data durably at the end of the object's order
	// without waiting for the store: it calls done exactly once, later or
	// before it returns, with the record's Seq or why it failed (the
	// record may then be stored or not). Appends keep the order of their
	// AppendAsync calls. AppendAsync may wait while too many appends are
	// unacknowledged; if it returns an error, done is never called. done
	// must not block.
	AppendAsync(ctx context.Context, obj ObjectID, data []byte, done func(seq uint64, err error)) error
	// Follow calls fn with the records the log still holds, in order: the
	// oldest kept snapshot (Snapshot=true; the latest or the one before it,
	// since a snapshot erases only what came before the previous one), the
	// batches and snapshots after it, and then new records as they arrive,
	// until ctx is done. A follower applies a snapshot by replacing its
	// state and skips records it has already applied. fn runs on one goroutine per Follow and owns
	// Record.Data (the log must not reuse it).
	//
	// Seq increases strictly along an object's order, also across Drop. A
	// snapshot record's Seq is at least that of the last record it covers
	// and below that of the next record. A follower that falls behind a
	// snapshot (its next record was replaced) gets the snapshot next.
	//
	// When the object's log restarted while the follower was away (the
	// log's storage was lost and recreated, or its records were erased
	// with no snapshot after them), Follow delivers a Record with Reset
	// set; the records after it start from an empty object, and their
	// Seq may be lower than before.
	Follow(ctx context.Context, obj ObjectID, fn func(Record)) error
	// Snapshot stores state as of record lastSeq, only if lastSeq is still
	// the object's last record (otherwise it returns ErrSnapshotStale and
	// nothing changes); records before the previous snapshot may then be
	// erased.
	Snapshot(ctx context.Context, obj ObjectID, lastSeq uint64, state []byte) error
	// Has reports whether the record at seq is in the object's log now:
	// false if a snapshot (or a drop) erased it, or it was never written.
	// The engine asks it before answering a request as folded into a
	// snapshot, to tell that from a log that restarted (whose sequence
	// numbers start again) before the follow noticed.
	Has(ctx context.Context, obj ObjectID, seq uint64) (bool, error)
	// Drop ends an object's life: it appends tombstone, a snapshot of the
	// empty object, only if lastSeq is still the object's last record
	// (otherwise it returns ErrSnapshotStale and nothing changes), then
	// erases every record before it. Followers get the tombstone as a
	// snapshot.
	Drop(ctx context.Context, obj ObjectID, lastSeq uint64, tombstone []byte) error
}

// Record is one entry of an object's log: a batch, or a snapshot of the
// object's state.
type Record struct {
	Seq      uint64
	Snapshot bool
	Data     []byte
	// Reset means the object's log restarted while the follower was away:
	// what follows starts from an empty object. A Reset record has no Seq
	// and no Data.
	Reset bool
}

// ErrSnapshotStale is returned by Log.Snapshot when records were appended
// after the one the snapshot was taken at.
var ErrSnapshotStale = errors.New("snapshot is stale")

// ErrTooLarge is wrapped by the errors of a Log's Append and Snapshot for a
// record over the log's size limit.
var ErrTooLarge = errors.New("record too large for the log")

// Presence tells which nodes have clients of (or hold) an object, so that a
// transient object is dropped only when nobody anywhere uses it, and so that
// a node can see that an object of the other persistence is in use.
type Presence interface {
	// Join records that nodeID uses obj. Joining twice is harmless.
	Join(ctx context.Context, obj ObjectID, nodeID string) error
	// Leave records that nodeID no longer uses obj.
	Leave(ctx context.Context, obj ObjectID, nodeID string) error
	// Anyone reports whether any node uses obj.
	Anyone(ctx context.Context, obj ObjectID) (bool, error)
}

// LocalPresence is a Presence kept in memory, for a single node (or several
// Managers in one process, as tests run them).
type LocalPresence struct {
	mu    sync.Mutex
	nodes map[ObjectID]map[string]struct{}
}

var _ Presence = (*LocalPresence)(nil)

// NewLocalPresence returns an empty LocalPresence.
func NewLocalPresence() *LocalPresence {
	return &LocalPresence{nodes: make(map[ObjectID]map[string]struct{})}
}

// Join implements Presence.
func (p *LocalPresence) Join(_ context.Context, obj ObjectID, nodeID string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := p.nodes[obj]
	if n == nil {
		n = make(map[string]struct{})
		p.nodes[obj] = n
	}
	n[nodeID] = struct{}{}
	return nil
}

// Leave implements Presence.
func (p *LocalPresence) Leave(_ context.Context, obj ObjectID, nodeID string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.nodes[obj], nodeID)
	if len(p.nodes[obj]) == 0 {
		delete(p.nodes, obj)
	}
	return nil
}

// Anyone implements Presence.
func (p *LocalPresence) Anyone(_ context.Context, obj ObjectID) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.nodes[obj]) > 0, nil
}
