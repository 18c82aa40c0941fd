package sharedobject

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shoal-live/shoal/internal/rtmp/somsg"
)

// Defaults for zero Config fields.
const (
	DefaultLinger         = 5 * time.Second
	DefaultSnapshotEvery  = 1000
	DefaultMaxAttributes  = 4096
	DefaultMaxValueBytes  = 64 << 10
	DefaultMaxObjectBytes = 512 << 10
)

// Config configures a Manager. Zero fields take the defaults above.
type Config struct {
	// NodeID names this node in the log and in presence; it must be unique
	// in the cluster.
	NodeID string
	// Linger is how long a transient object outlives its last local client
	// before this node stops following it and, if nobody anywhere uses it,
	// drops it. Negative means no linger.
	Linger time.Duration
	// SnapshotEvery is how many batches are applied between snapshots.
	// Negative disables snapshots.
	SnapshotEvery int
	// MaxAttributes bounds the keys of one object, MaxValueBytes the AMF3
	// size of one value and MaxObjectBytes the size of all keys and values
	// of one object (which is also about the size of its snapshot, so keep
	// it below the log's record size limit). Negative means unlimited.
	MaxAttributes  int
	MaxValueBytes  int
	MaxObjectBytes int
	// Policy is applied before the Security hooks.
	Policy Policy
}

func (c Config) withDefaults() Config {
	if c.Linger == 0 {
		c.Linger = DefaultLinger
	}
	if c.SnapshotEvery == 0 {
		c.SnapshotEvery = DefaultSnapshotEvery
	}
	if c.MaxAttributes == 0 {
		c.MaxAttributes = DefaultMaxAttributes
	}
	if c.MaxValueBytes == 0 {
		c.MaxValueBytes = DefaultMaxValueBytes
	}
	if c.MaxObjectBytes == 0 {
		c.MaxObjectBytes = DefaultMaxObjectBytes
	}
	return c
}

// Validate checks c.
func (c Config) Validate() error {
	if c.NodeID == "" {
		return errors.New("node_id: must not be empty")
	}
	if err := c.Policy.Validate(); err != nil {
		return fmt.Errorf("policy: %w", err)
	}
	return nil
}

// Event is an event delivered to a client.
type Event = somsg.Event

// Request is a client request: an Event of type RequestChange,
// RequestRemove or SendMessage, or Clear (from server code acting for a
// client).
type Request = somsg.Event

// Listener is one local client's view of one or more objects (an RTMP
// connection or a WebSocket). The face implements Deliver to encode the
// events for its wire.
//
// Listeners are map keys, so their dynamic types must be comparable (use
// pointers). Deliver gets the events of one batch for this client only, with the
// object's version after the batch (0 for error replies outside any
// batch). It is called for one object at a time, in order, but calls for
// different objects may run concurrently. It must not block (faces queue),
// must not call the Manager, and must not modify events or their values,
// which are shared among listeners.
type Listener interface {
	Deliver(obj ObjectID, version uint64, events []Event)
}

// Errors returned by the Manager.
var (
	// ErrNotRunning means Run is not running.
	ErrNotRunning = errors.New("shared object manager not running")
	// ErrNotUsed means a Submit came from a listener that does not use the
	// object.
	ErrNotUsed = errors.New("listener does not use the object")
	// ErrBadPersistence means the object exists with the other persistence.
	ErrBadPersistence = errors.New("object exists with the other persistence")
	// ErrLimit means a value is larger than MaxValueBytes.
	ErrLimit = errors.New("shared object limit exceeded")
	// ErrInvalidID means an object name is empty or too long.
	ErrInvalidID = errors.New("invalid shared object id")
)

// Manager runs the shared objects of one node: it follows the logs of the
// objects its clients use, applies their batches in order and delivers the
// resulting events to its local clients.
//
// Lock order: Manager.mu before object.mu; obsMu and secMu are leaves.
type Manager struct {
	cfg      Config
	log      Log
	presence Presence
	logger   *slog.Logger
	policy   policySecurity
	session  uint64 // tells this Manager's requests from an earlier one's with the same NodeID
	reqs     atomic.Uint64
	wg       sync.WaitGroup // tasks started by spawn
	started  chan struct{}  // closed when Run starts
	stopped  chan struct{}  // closed when Run returns

	secMu    sync.RWMutex
	security []securityEntry

	obsMu     sync.Mutex
	observers map[objKey][]*observer

	mu struct {
		sync.Mutex
		ctx     context.Context // Run's context while it runs; tasks inherit it
		ran     bool
		objects map[objKey]*object
	}
}

// New returns a Manager. It starts nothing; Run does.
func New(cfg Config, log Log, presence Presence, logger *slog.Logger) *Manager {
	cfg = cfg.withDefaults()
	m := &Manager{
		cfg:       cfg,
		log:       log,
		presence:  presence,
		logger:    logger,
		policy:    policySecurity{p: cfg.Policy},
		session:   rand.Uint64() | 1,
		started:   make(chan struct{}),
		stopped:   make(chan struct{}),
		observers: make(map[objKey][]*observer),
	}
	m.mu.objects = make(map[objKey]*object)
	return m
}

// Run serves until ctx is done, then stops following objects and waits for
// its goroutines. A Manager runs once.
func (m *Manager) Run(ctx context.Context) error {
	if err := m.cfg.Validate(); err != nil {
		return fmt.Errorf("shared objects: %w", err)
	}
	m.mu.Lock()
	if m.mu.ran {
		m.mu.Unlock()
		return errors.New("shared objects: manager already ran")
	}
	m.mu.ran = true
	m.mu.ctx = ctx
	m.mu.Unlock()
	close(m.started)

	<-ctx.Done()

	m.mu.Lock()
	m.mu.ctx = nil
	var loaded []ObjectID
	for _, o := range m.mu.objects {
		o.lingerGen++
		if o.linger != nil {
			o.linger.Stop()
			o.linger = nil
		}
		if !o.unloading {
			loaded = append(loaded, o.id)
		}
	}
	m.mu.Unlock()
	m.wg.Wait()
	close(m.stopped)

	// Tell the cluster this node is gone, so transient objects can be
	// dropped by the others without waiting for presence to expire.
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	for _, id := range loaded {
		if err := m.presence.Leave(lctx, id, m.cfg.NodeID); err != nil {
			m.logger.Warn("leave shared object presence", "scope", id.Scope, "name", id.Name, "err", err)
		}
	}
	return nil
}

// spawnLocked runs fn in a goroutine that Run waits for. m.mu is held.
func (m *Manager) spawnLocked(fn func(ctx context.Context)) error {
	ctx := m.mu.ctx
	if ctx == nil {
		return ErrNotRunning
	}
	m.wg.Go(func() { fn(ctx) })
	return nil
}

func (m *Manager) spawn(fn func(ctx context.Context)) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.spawnLocked(fn)
}

func validID(id ObjectID) error {
	if id.Name == "" || len(id.Name) > 0xffff || len(id.Scope) > 0xffff {
		return fmt.Errorf("scope %q name %q: %w", id.Scope, id.Name, ErrInvalidID)
	}
	return nil
}

// waitStarted waits until Run started.
func (m *Manager) waitStarted(ctx context.Context) error {
	select {
	case <-m.started:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// acquire returns the loaded object id, loading it (presence, follow) if
// needed, with one more reference. It fails with ErrBadPersistence if the
// object is loaded with the other persistence. Before Run started, it
// waits.
func (m *Manager) acquire(ctx context.Context, id ObjectID) (*object, error) {
	if err := m.waitStarted(ctx); err != nil {
		return nil, err
	}
	for {
		m.mu.Lock()
		if m.mu.ctx == nil {
			m.mu.Unlock()
			return nil, ErrNotRunning
		}
		o := m.mu.objects[id.key()]
		if o != nil && o.unloading {
			ch := o.unloaded
			m.mu.Unlock()
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		if o != nil && o.id.Persistent != id.Persistent {
			m.mu.Unlock()
			return nil, ErrBadPersistence
		}
		fresh := o == nil
		if fresh {
			o = newObject(m, id)
			m.mu.objects[id.key()] = o
			if err := m.spawnLocked(o.follow); err != nil {
				delete(m.mu.objects, id.key())
				m.mu.Unlock()
				return nil, err
			}
		}
		o.refs++
		o.stopLingerLocked()
		m.mu.Unlock()

		if fresh {
			o.readyErr = m.presence.Join(ctx, id, m.cfg.NodeID)
			if o.readyErr != nil {
				o.readyErr = fmt.Errorf("join presence of %s: %w", id, o.readyErr)
			}
			close(o.ready)
		} else {
			select {
			case <-o.ready:
			case <-ctx.Done():
				m.unref(o, 1)
				return nil, ctx.Err()
			}
		}
		if o.readyErr != nil {
			m.unref(o, 1)
			return nil, o.readyErr
		}
		return o, nil
	}
}

// find returns the loaded object id, or nil. It fails with
// ErrBadPersistence if the object is loaded with the other persistence.
func (m *Manager) find(id ObjectID) (*object, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o := m.mu.objects[id.key()]
	if o == nil || o.unloading {
		return nil, nil
	}
	if o.id.Persistent != id.Persistent {
		return nil, ErrBadPersistence
	}
	return o, nil
}

// unref drops n references to o; at zero the linger starts.
func (m *Manager) unref(o *object, n int) {
	if n == 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	o.refs -= n
	if o.refs > 0 || o.unloading {
		return
	}
	if m.mu.ctx == nil {
		return // stopping
	}
	o.lingerGen++
	gen := o.lingerGen
	if m.cfg.Linger < 0 {
		m.startUnloadLocked(o)
		return
	}
	o.linger = time.AfterFunc(m.cfg.Linger, func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		if o.lingerGen != gen || o.refs > 0 || o.unloading {
			return
		}
		o.linger = nil
		m.startUnloadLocked(o)
	})
}

// startUnloadLocked starts unloading o. m.mu is held.
func (m *Manager) startUnloadLocked(o *object) {
	o.unloading = true
	err := m.spawnLocked(func(ctx context.Context) { m.unload(ctx, o) })
	if err != nil {
		o.unloading = false // stopping; Run leaves presence
	}
}

// unload stops following o, leaves its presence and, for a transient object
// nobody uses any more, drops its records.
func (m *Manager) unload(ctx context.Context, o *object) {
	o.stopFollow()
	<-o.followDone
	id := o.id
	log := m.logger.With("scope", id.Scope, "name", id.Name)
	if err := m.presence.Leave(ctx, id, m.cfg.NodeID); err != nil {
		log.Warn("leave shared object presence", "err", err)
	}
	if !id.Persistent {
		m.drop(ctx, o, log)
	}
	m.mu.Lock()
	delete(m.mu.objects, id.key())
	close(o.unloaded)
	m.mu.Unlock()
}

// drop ends the life of transient object o, which this node stopped
// following, if no node uses it: it writes a tombstone guarded by the last
// record o applied, so a Use (or anything else) another node appended
// meanwhile keeps the object, and a node that still follows it sees the
// drop.
func (m *Manager) drop(ctx context.Context, o *object, log *slog.Logger) {
	anyone, err := m.presence.Anyone(ctx, o.id)
	if err != nil {
		log.Warn("check shared object presence", "err", err)
		return
	}
	if anyone {
		return
	}
	o.mu.Lock()
	lastSeq, version := o.lastSeq, o.version
	o.mu.Unlock()
	if lastSeq == 0 {
		return // nothing applied: nothing to drop
	}
	tomb := (&snapshot{version: version + 1, dropped: true}).appendTo(nil)
	switch err := m.log.Drop(ctx, o.id, lastSeq, tomb); {
	case errors.Is(err, ErrSnapshotStale):
		log.Debug("transient shared object kept: written to since this node's last record", "seq", lastSeq)
	case err != nil:
		log.Warn("drop transient shared object", "err", err)
	default:
		log.Debug("transient shared object dropped", "version", version)
	}
}

// Loaded returns the objects this node follows.
func (m *Manager) Loaded() []ObjectID {
	m.mu.Lock()
	defer m.mu.Unlock()
	ids := make([]ObjectID, 0, len(m.mu.objects))
	for _, o := range m.mu.objects {
		if !o.unloading {
			ids = append(ids, o.id)
		}
	}
	return ids
}

func (id ObjectID) String() string {
	kind := "transient"
	if id.Persistent {
		kind = "persistent"
	}
	return fmt.Sprintf("%s %q in %q", kind, id.Name, id.Scope)
}
