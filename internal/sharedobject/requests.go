package sharedobject

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"

	"github.com/shoal-live/shoal/internal/rtmp/amf"
	"github.com/shoal-live/shoal/internal/rtmp/somsg"
)

// Status codes for requests beyond the limits. Red5 has no such limits;
// these codes reach the client's NetStatus/onStatus like Red5's own, and
// the Event's Description says which limit and by how much.
const (
	CodeTooManyAttributes = "SharedObject.TooManyAttributes"
	CodeValueTooLarge     = "SharedObject.ValueTooLarge"
	CodeObjectTooLarge    = "SharedObject.ObjectTooLarge"
	// CodeWriteFailed answers a request whose batch the log failed to
	// store (or to acknowledge in time: it may still be applied).
	CodeWriteFailed = "SharedObject.WriteFailed"
)

// Use makes l a client of the object, as the Use event of an RTMP client
// does. Security runs first: a denial is delivered to l as a Status event
// (NoReadAccess, BadPersistence; ObjectCreationFailed once the Use has its
// place in the object's order) with version 0, and Use returns nil. Then a
// Use batch is appended; when this node applies it, l gets UseSuccess,
// Clear for a transient object and a Change per attribute, at the version
// of that batch, and every later batch's events after that. Because the
// Use has a place in the order, a client never sees the version go
// backwards, whichever node it comes back through.
//
// Use returns an error only when the Use could not be carried out (the
// Manager is not running, the log or presence failed, ctx ended).
func (m *Manager) Use(ctx context.Context, id ObjectID, l Listener, conn ConnInfo) error {
	if err := validID(id); err != nil {
		return err
	}
	deny := func(code, desc string) {
		m.logger.Debug("shared object use denied", "scope", id.Scope, "name", id.Name,
			"conn_id", conn.ID, "code", code)
		l.Deliver(id, 0, []Event{statusEvent(code, desc)})
	}
	if !m.allowed(id.Scope, func(s Security) bool { return s.ConnectAllowed(id, conn) }) {
		deny(somsg.CodeNoReadAccess, "use of "+id.String()+" denied")
		return nil
	}
	o, err := m.acquire(ctx, id)
	if errors.Is(err, ErrBadPersistence) {
		deny(somsg.CodeBadPersistence, id.String()+" exists with the other persistence")
		return nil
	}
	if err != nil {
		return fmt.Errorf("use %s: %w", id, err)
	}
	// Another node may use the same name with the other persistence.
	other, err := m.presence.Anyone(ctx, id.other())
	if err != nil {
		m.unref(o, 1)
		return fmt.Errorf("use %s: check presence: %w", id, err)
	}
	if other {
		m.unref(o, 1)
		deny(somsg.CodeBadPersistence, id.String()+" exists with the other persistence")
		return nil
	}
	create := m.allowed(id.Scope, func(s Security) bool {
		return s.CreationAllowed(id.Scope, id.Name, id.Persistent, conn)
	})
	p := &pending{kind: pendingUse, l: l, conn: conn, create: create}
	if err := m.appendPending(ctx, o, p, []op{{kind: opUse, create: create}}); err != nil {
		return fmt.Errorf("use %s: %w", id, err)
	}
	return nil
}

// appendPending registers p, appends ops as its batch and records where it
// went. If the batch was already folded into a snapshot this node applied,
// p is answered now. If the append fails, a Use's reference is dropped
// (unless Release did).
func (m *Manager) appendPending(ctx context.Context, o *object, p *pending, ops []op) error {
	req, data := m.register(o, p, ops)
	seq, err := m.log.Append(ctx, o.id, data)
	o.settle(req, p, seq, err)
	if err != nil {
		return fmt.Errorf("append: %w", err)
	}
	return nil
}

// appendPendingAsync is appendPending without waiting for the log: it
// returns once the batch is on its way. If the log reports a failure
// later, p's listener gets its denials and a CodeWriteFailed Status, and
// the failure is logged.
func (m *Manager) appendPendingAsync(ctx context.Context, o *object, p *pending, ops []op) error {
	req, data := m.register(o, p, ops)
	err := m.log.AppendAsync(ctx, o.id, data, func(seq uint64, err error) {
		o.settle(req, p, seq, err)
		if err != nil {
			o.appendFailed(p, err)
		}
	})
	if err != nil {
		o.settle(req, p, 0, err)
		return fmt.Errorf("append: %w", err)
	}
	return nil
}

// register records p as pending under a new request id and returns the id
// and the batch of ops to append.
func (m *Manager) register(o *object, p *pending, ops []op) (req uint64, data []byte) {
	req = m.reqs.Add(1)
	o.mu.Lock()
	o.pending[req] = p
	o.mu.Unlock()
	bt := batch{node: m.cfg.NodeID, session: m.session, req: req, ops: ops}
	return req, bt.appendTo(nil)
}

// settle records the outcome of appending p's batch: its place in the log,
// or the failure, which drops p (and a Use's reference, unless Release
// did).
func (o *object) settle(req uint64, p *pending, seq uint64, err error) {
	var fx effects
	o.mu.Lock()
	_, waiting := o.pending[req]
	switch {
	case err != nil:
		delete(o.pending, req)
		if p.kind == pendingUse && !p.cancelled {
			p.cancelled = true
			fx.unrefs++
		}
	case waiting:
		p.seq = seq
		// Only a snapshot erases batches: one at or after seq may have
		// covered it, if the log no longer has it. (The log may instead
		// have restarted, its sequence numbers with it, before the follow
		// noticed: then the batch is still to come.)
		if o.coverSeq >= seq {
			fx.verify = append(fx.verify, coverCheck{req: req, p: p, seq: seq})
		}
	}
	o.mu.Unlock()
	o.finish(&fx, nil)
}

// appendFailed tells a submitter still using the object that its batch
// failed: the Status events of its denied requests, then CodeWriteFailed.
func (o *object) appendFailed(p *pending, err error) {
	o.logger.Warn("shared object write failed", "conn_id", p.conn.ID, "err", err)
	evs := make([]Event, 0, len(p.denials)+1)
	for _, d := range p.denials {
		evs = append(evs, d.ev)
	}
	evs = append(evs, statusEvent(CodeWriteFailed, "the change was not stored: "+err.Error()))
	o.mu.Lock()
	defer o.mu.Unlock()
	switch {
	case !o.listeners.has(p.l):
	case o.isStale(p.l):
		o.staleReplies[p.l] = append(o.staleReplies[p.l], evs...)
	default:
		p.l.Deliver(o.id, o.version, evs)
	}
}

// Release ends l's use of the object, as the Release event of an RTMP
// client does (and as the face does when the client disconnects). No
// event is delivered to l after Release returns.
func (m *Manager) Release(id ObjectID, l Listener) {
	o, _ := m.find(id)
	if o == nil {
		return
	}
	n := 0
	o.mu.Lock()
	if o.listeners.remove(l) {
		n++
	}
	delete(o.stale, l)
	cancel := func(p *pending) {
		if p.kind == pendingUse && p.l == l && !p.cancelled {
			p.cancelled = true
			n++
		}
	}
	for _, p := range o.pending {
		cancel(p)
	}
	for _, p := range o.deferred {
		cancel(p)
	}
	for _, p := range o.reusing {
		cancel(p)
	}
	o.mu.Unlock()
	m.unref(o, n)
}

// Submit carries out the requests of one client message as one batch:
// RequestChange, RequestRemove and SendMessage, and Clear (which server
// code may submit for a client; no RTMP client sends it, and Red5 ignores
// it from clients). A Clear counts as a removal of every current key: it
// is denied unless DeleteAllowed allows each of them. Each
// request is checked against the Policy, the Security hooks and the
// limits; denied writes and removes give l a Status (NoWriteAccess or a
// limit code), denied sends are dropped silently, as Red5 does. The
// accepted requests are appended as one batch, so other clients see them
// together, as one version; l gets its Success, Remove and SendMessage
// events and the Status events in request order when this node applies
// the batch. If nothing is accepted, the Status events are delivered at
// once and nothing is appended. Other event types are ignored.
//
// Limits on attribute count and object size are checked against this
// node's replica, so writers on several nodes at once can exceed them by
// what they have in flight; applying a batch never depends on
// configuration, so replicas cannot diverge.
//
// Submit returns once the batch is on its way to the log, without waiting
// for it to be stored (it waits only while the log has too many appends
// unacknowledged), so that one client's messages are pipelined. Batches
// are appended in the order of Submit calls, and l's Success comes only
// when the batch is applied, so after it is durable. If the log fails to
// store the batch, l gets its denials and a CodeWriteFailed Status, and
// the failure is logged. Calls for one listener must not overlap, so that
// its messages keep their order.
func (m *Manager) Submit(ctx context.Context, id ObjectID, l Listener, conn ConnInfo, reqs []Request) error {
	o, err := m.find(id)
	if err != nil || o == nil {
		return fmt.Errorf("submit to %s: %w", id, ErrNotUsed)
	}
	o.mu.Lock()
	member := o.member(l)
	o.mu.Unlock()
	if !member {
		return fmt.Errorf("submit to %s: %w", id, ErrNotUsed)
	}
	log := &reqLogger{base: m.logger, id: id, conn: conn.ID}

	// Security and encoding, outside the object's lock.
	items := make([]item, 0, len(reqs))
	for i := range reqs {
		r := &reqs[i]
		switch r.Type {
		case somsg.RequestChange:
			if !m.allowed(id.Scope, func(s Security) bool { return s.WriteAllowed(id, r.Key, r.Value, conn) }) {
				items = append(items, denied(somsg.CodeNoWriteAccess, fmt.Sprintf("write of %q denied", r.Key)))
				continue
			}
			enc, err := m.encodeValue(r.Value)
			if err != nil {
				log.get().Info("shared object write refused", "key", r.Key, "err", err)
				code := somsg.CodeNoWriteAccess
				if errors.Is(err, errValueTooLarge) {
					code = CodeValueTooLarge
				}
				items = append(items, denied(code, fmt.Sprintf("value of %q: %v", r.Key, err)))
				continue
			}
			items = append(items, item{op: op{kind: opSet, key: r.Key, value: enc}})
		case somsg.RequestRemove:
			if !m.allowed(id.Scope, func(s Security) bool { return s.DeleteAllowed(id, r.Key, conn) }) {
				items = append(items, denied(somsg.CodeNoWriteAccess, fmt.Sprintf("removal of %q denied", r.Key)))
				continue
			}
			items = append(items, item{op: op{kind: opRemove, key: r.Key}})
		case somsg.SendMessage:
			if !m.allowed(id.Scope, func(s Security) bool { return s.SendAllowed(id, r.Handler, r.Args, conn) }) {
				log.get().Debug("shared object send denied", "handler", r.Handler)
				continue
			}
			enc, err := m.encodeArgs(r.Args)
			if err != nil {
				log.get().Info("shared object send refused", "handler", r.Handler, "err", err)
				continue
			}
			items = append(items, item{op: op{kind: opSend, key: r.Handler, value: enc, nilArgs: r.Args == nil}})
		case somsg.Clear:
			if !m.clearAllowed(o, conn) {
				items = append(items, denied(somsg.CodeNoWriteAccess, "clear denied"))
				continue
			}
			items = append(items, item{op: op{kind: opClear}})
		default:
			log.get().Debug("shared object request ignored", "type", r.Type.String())
		}
	}

	// Limits against the replica, and the batch.
	var ops []op
	var denials []denial
	o.mu.Lock()
	o.checkLimits(items, log)
	for _, it := range items {
		if it.denial != nil {
			denials = append(denials, denial{pos: len(ops), ev: *it.denial})
		} else {
			ops = append(ops, it.op)
		}
	}
	if len(ops) == 0 {
		if len(denials) > 0 && o.member(l) {
			evs := make([]Event, len(denials))
			for i, d := range denials {
				evs[i] = d.ev
			}
			if o.isStale(l) {
				o.staleReplies[l] = append(o.staleReplies[l], evs...)
			} else {
				l.Deliver(id, o.version, evs)
			}
		}
		o.mu.Unlock()
		return nil
	}
	o.mu.Unlock()
	p := &pending{kind: pendingSubmit, l: l, conn: conn, ops: ops, denials: denials}
	if err := m.appendPendingAsync(ctx, o, p, ops); err != nil {
		return fmt.Errorf("submit to %s: %w", id, err)
	}
	return nil
}

// clearAllowed reports whether conn may remove every key of o.
func (m *Manager) clearAllowed(o *object, conn ConnInfo) bool {
	o.mu.Lock()
	keys := slices.Collect(maps.Keys(o.attrs))
	o.mu.Unlock()
	id := o.id
	return m.allowed(id.Scope, func(s Security) bool {
		for _, k := range keys {
			if !s.DeleteAllowed(id, k, conn) {
				return false
			}
		}
		return true
	})
}

// ReleaseAll ends l's use of every object, as when its connection closes.
func (m *Manager) ReleaseAll(l Listener) {
	m.mu.Lock()
	ids := make([]ObjectID, 0, len(m.mu.objects))
	for _, o := range m.mu.objects {
		ids = append(ids, o.id)
	}
	m.mu.Unlock()
	for _, id := range ids {
		m.Release(id, l)
	}
}

// reqLogger gives the logger of one request, with its object and
// connection, made on first use: slog.Logger.With on every Submit costs
// allocations although most requests log nothing.
type reqLogger struct {
	base *slog.Logger
	id   ObjectID
	conn string
	l    *slog.Logger
}

func (r *reqLogger) get() *slog.Logger {
	if r.l == nil {
		r.l = r.base.With("scope", r.id.Scope, "name", r.id.Name, "conn_id", r.conn)
	}
	return r.l
}

// item is a request as an op, or its denial.
type item struct {
	op     op
	denial *Event
}

func denied(code, desc string) item {
	ev := statusEvent(code, desc)
	return item{denial: &ev}
}

// member reports whether l uses the object or is about to. object.mu is
// held.
func (o *object) member(l Listener) bool {
	if o.listeners.has(l) {
		return true
	}
	using := func(p *pending) bool { return p.kind == pendingUse && p.l == l && !p.cancelled }
	for _, p := range o.pending {
		if using(p) {
			return true
		}
	}
	return slices.ContainsFunc(o.deferred, using) || slices.ContainsFunc(o.reusing, using)
}

// checkLimits denies the sets among items that would take the replica past
// MaxAttributes or MaxObjectBytes. object.mu is held.
func (o *object) checkLimits(items []item, log *reqLogger) {
	maxAttrs, maxBytes := o.m.cfg.MaxAttributes, o.m.cfg.MaxObjectBytes
	if maxAttrs < 0 && maxBytes < 0 {
		return
	}
	count, size := len(o.attrs), o.size
	cleared := false
	var touched map[string]int // key → size of key and value, -1 if removed
	current := func(key string) (int, bool) {
		if n, ok := touched[key]; ok {
			return n, n >= 0
		}
		if a := o.attrs[key]; a != nil && !cleared {
			return len(key) + len(a.enc), true
		}
		return 0, false
	}
	touch := func(key string, n int) {
		if touched == nil {
			touched = make(map[string]int)
		}
		touched[key] = n
	}
	for i := range items {
		it := &items[i]
		if it.denial != nil {
			continue
		}
		switch it.op.kind {
		case opSet:
			old, exists := current(it.op.key)
			if it.op.value == nil {
				if exists {
					count--
					size -= old
					touch(it.op.key, -1)
				}
				continue
			}
			n := len(it.op.key) + len(it.op.value)
			newCount, newSize := count, size-old+n
			if !exists {
				newCount++
			}
			var d item
			switch {
			case maxAttrs >= 0 && newCount > maxAttrs:
				d = denied(CodeTooManyAttributes, fmt.Sprintf("%q would be attribute %d, limit %d", it.op.key, newCount, maxAttrs))
			case maxBytes >= 0 && newSize > maxBytes && newSize > size:
				d = denied(CodeObjectTooLarge, fmt.Sprintf("setting %q would make the object %d bytes, limit %d", it.op.key, newSize, maxBytes))
			default:
				count, size = newCount, newSize
				touch(it.op.key, n)
				continue
			}
			log.get().Info("shared object write refused", "key", it.op.key, "code", d.denial.Code, "reason", d.denial.Description)
			*it = d
		case opRemove:
			if old, exists := current(it.op.key); exists {
				count--
				size -= old
				touch(it.op.key, -1)
			}
		case opClear:
			count, size, cleared, touched = 0, 0, true, nil
		}
	}
}

var errValueTooLarge = fmt.Errorf("value too large: %w", ErrLimit)

// encoders3 are AMF3 encoders for encodeValue and encodeArgs: an
// encoder's reference tables are maps, which Reset keeps.
var encoders3 = sync.Pool{New: func() any { return amf.NewEncoder3(nil) }}

// encodeValue returns v in AMF3 with fresh reference tables, or nil for
// null.
func (m *Manager) encodeValue(v any) ([]byte, error) {
	if v == nil {
		return nil, nil
	}
	e := encoders3.Get().(*amf.Encoder)
	defer encoders3.Put(e)
	e.Reset(nil)
	if err := e.Encode(v); err != nil {
		return nil, err
	}
	b := e.Bytes()
	e.Reset(nil)
	if max := m.cfg.MaxValueBytes; max >= 0 && len(b) > max {
		return nil, fmt.Errorf("%d bytes, limit %d: %w", len(b), max, errValueTooLarge)
	}
	return b, nil
}

// encodeArgs returns args as one AMF3 sequence.
func (m *Manager) encodeArgs(args []any) ([]byte, error) {
	e := encoders3.Get().(*amf.Encoder)
	defer encoders3.Put(e)
	e.Reset(nil)
	for i, a := range args {
		if err := e.Encode(a); err != nil {
			e.Reset(nil)
			return nil, fmt.Errorf("argument %d: %w", i, err)
		}
	}
	b := e.Bytes()
	e.Reset(nil)
	if max := m.cfg.MaxValueBytes; max >= 0 && len(b) > max {
		return nil, fmt.Errorf("arguments of %d bytes, limit %d: %w", len(b), max, errValueTooLarge)
	}
	return b, nil
}
