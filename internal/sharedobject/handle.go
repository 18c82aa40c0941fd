package sharedobject

import (
	"context"
	"fmt"
	"slices"
)

// Handle is server-side code's access to one shared object, like Red5's
// ISharedObject: read the local replica, change the object, send messages,
// observe changes and hold the object.
//
// Reads see this node's replica, which is loaded while local clients use
// the object or it is held (otherwise Get finds nothing and Version is 0).
// Changes have no requester: every client gets Change (no Success). They
// return once durable in the log; the local replica shows them once this
// node has applied them, normally within milliseconds.
type Handle struct {
	m  *Manager
	id ObjectID
}

// Object returns a Handle of id. It does no I/O.
func (m *Manager) Object(id ObjectID) *Handle { return &Handle{m: m, id: id} }

// ID returns the object's id.
func (h *Handle) ID() ObjectID { return h.id }

func (h *Handle) replica() *object {
	o, _ := h.m.find(h.id)
	return o
}

// Get returns the value of key in the local replica. The value is shared:
// do not modify it.
func (h *Handle) Get(key string) (any, bool) {
	o := h.replica()
	if o == nil {
		return nil, false
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	a := o.attrs[key]
	if a == nil {
		return nil, false
	}
	return o.value(a), true
}

// Attributes returns the attributes of the local replica. The values are
// shared: do not modify them.
func (h *Handle) Attributes() map[string]any {
	o := h.replica()
	if o == nil {
		return map[string]any{}
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	attrs := make(map[string]any, len(o.attrs))
	for k, a := range o.attrs {
		attrs[k] = o.value(a)
	}
	return attrs
}

// Version returns the version of the local replica.
func (h *Handle) Version() uint64 {
	o := h.replica()
	if o == nil {
		return 0
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.version
}

// Set sets key to value; a nil value removes the key. Only MaxValueBytes
// applies to server code.
func (h *Handle) Set(ctx context.Context, key string, value any) error {
	enc, err := h.m.encodeValue(value)
	if err != nil {
		return fmt.Errorf("set %q of %s: %w", key, h.id, err)
	}
	return h.append(ctx, "set", op{kind: opSet, key: key, value: enc})
}

// Remove removes key.
func (h *Handle) Remove(ctx context.Context, key string) error {
	return h.append(ctx, "remove", op{kind: opRemove, key: key})
}

// Clear removes every key: each client gets a Remove per key.
func (h *Handle) Clear(ctx context.Context) error {
	return h.append(ctx, "clear", op{kind: opClear})
}

// Send calls handler with args on every client of the object. With no
// args, clients get one null argument, as from Red5.
func (h *Handle) Send(ctx context.Context, handler string, args ...any) error {
	enc, err := h.m.encodeArgs(args)
	if err != nil {
		return fmt.Errorf("send %q on %s: %w", handler, h.id, err)
	}
	return h.append(ctx, "send", op{kind: opSend, key: handler, value: enc, nilArgs: args == nil})
}

func (h *Handle) append(ctx context.Context, what string, o op) error {
	if err := validID(h.id); err != nil {
		return err
	}
	if _, err := h.m.find(h.id); err != nil {
		return fmt.Errorf("%s on %s: %w", what, h.id, err)
	}
	bt := batch{node: h.m.cfg.NodeID, session: h.m.session, ops: []op{o}}
	if _, err := h.m.log.Append(ctx, h.id, bt.appendTo(nil)); err != nil {
		return fmt.Errorf("%s on %s: append: %w", what, h.id, err)
	}
	return nil
}

// Hold keeps the object loaded on this node, creating it if needed, until
// Release; a held transient object is not dropped. Hold returns once the
// replica is current as of the call. Holds count: each Hold needs a
// Release.
func (h *Handle) Hold(ctx context.Context) error {
	if err := validID(h.id); err != nil {
		return err
	}
	m := h.m
	o, err := m.acquire(ctx, h.id)
	if err != nil {
		return fmt.Errorf("hold %s: %w", h.id, err)
	}
	m.mu.Lock()
	o.holds++
	m.mu.Unlock()
	p := &pending{kind: pendingHold, done: make(chan struct{}), create: true}
	if err := m.appendPending(ctx, o, p, []op{{kind: opUse, create: true}}); err != nil {
		h.Release()
		return fmt.Errorf("hold %s: %w", h.id, err)
	}
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		h.Release()
		return fmt.Errorf("hold %s: %w", h.id, ctx.Err())
	case <-m.stopped:
		return fmt.Errorf("hold %s: %w", h.id, ErrNotRunning)
	}
}

// Release ends one Hold. Without a Hold it does nothing (Red5 throws).
func (h *Handle) Release() {
	m := h.m
	m.mu.Lock()
	o := m.mu.objects[h.id.key()]
	if o == nil || o.unloading || o.holds == 0 || o.id.Persistent != h.id.Persistent {
		m.mu.Unlock()
		return
	}
	o.holds--
	m.mu.Unlock()
	m.unref(o, 1)
}

// ChangeKind says what a ChangeEvent is.
type ChangeKind uint8

// Change kinds.
const (
	ChangeSet    ChangeKind = iota + 1 // Key got Value (only when it differs)
	ChangeRemove                       // Key was removed
	ChangeClear                        // every key was removed
	ChangeSend                         // a message to Handler with Args was sent
)

func (k ChangeKind) String() string {
	switch k {
	case ChangeSet:
		return "set"
	case ChangeRemove:
		return "remove"
	case ChangeClear:
		return "clear"
	case ChangeSend:
		return "send"
	}
	return fmt.Sprintf("ChangeKind(%d)", uint8(k))
}

// ChangeEvent is a change this node applied to an object.
type ChangeEvent struct {
	Object  ObjectID
	Version uint64 // the object's version after the batch
	Kind    ChangeKind
	Key     string
	Value   any // shared: do not modify
	Handler string
	Args    []any
	// Node is the node that appended the change ("" when this node caught
	// up from a snapshot).
	Node string
}

type observer struct {
	fn func(ChangeEvent)
}

// Listen calls fn for every change this node applies to the object, in
// order, on the goroutine that applies them: fn should be quick and must
// not wait for changes of the same object. Changes are applied while local
// clients use the object or it is held. The returned function stops the
// calls.
func (h *Handle) Listen(fn func(ChangeEvent)) (stop func()) {
	m, k := h.m, h.id.key()
	m.obsMu.Lock()
	ob := &observer{fn: fn}
	m.observers[k] = append(slices.Clip(m.observers[k]), ob)
	m.obsMu.Unlock()
	return func() {
		m.obsMu.Lock()
		defer m.obsMu.Unlock()
		m.observers[k] = slices.DeleteFunc(slices.Clone(m.observers[k]), func(o *observer) bool { return o == ob })
		if len(m.observers[k]) == 0 {
			delete(m.observers, k)
		}
	}
}

func (m *Manager) observersOf(k objKey) []*observer {
	m.obsMu.Lock()
	defer m.obsMu.Unlock()
	return m.observers[k]
}

// change records a change for the observers, if there are any.
func (fx *effects) change(o *object, kind ChangeKind, key string, v any, node string) {
	if fx.observed {
		fx.changes = append(fx.changes, ChangeEvent{Object: o.id, Version: o.version, Kind: kind, Key: key, Value: v, Node: node})
	}
}
