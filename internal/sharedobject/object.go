package sharedobject

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/shoal-live/shoal/internal/rtmp/amf"
	"github.com/shoal-live/shoal/internal/rtmp/somsg"
)

// object is this node's replica of one shared object, with its local
// listeners.
type object struct {
	m      *Manager
	id     ObjectID
	logger *slog.Logger

	// Set once by newObject.
	ready      chan struct{} // closed when presence was joined (readyErr says how)
	readyErr   error
	unloaded   chan struct{} // closed when unload finished
	followDone chan struct{} // closed when the follow task returned
	// followCtx is cancelled by stopFollow to end the follow task; a
	// context (rather than a channel) so that Follow can be given it.
	followCtx  context.Context
	stopFollow context.CancelFunc

	// Guarded by Manager.mu.
	refs      int // local listeners, pending uses and holds
	holds     int
	unloading bool
	linger    *time.Timer
	lingerGen int

	mu           sync.Mutex // guards what follows
	version      uint64     // batches applied
	lastSeq      uint64     // seq of the last record applied
	coverSeq     uint64     // seq of the newest snapshot applied: batches up to it may have been erased
	snapVersion  uint64     // version of the newest snapshot known
	snapRetry    uint64     // no snapshot attempt before this version (after a failed one)
	snapshotting bool
	created      bool
	attrs        map[string]*attr
	size         int // bytes of keys and values
	listeners    members
	pending      map[uint64]*pending
	dec          *amf.Decoder // AMF3 decoder of stored values, reused
	restoredBase uint64       // highest restore base applied (see opRestore)
	// While this node's restore is on its way (restoring), the listeners
	// in stale keep the view they had before the log restarted or was
	// dropped (staleView) and get no events; the restore's batch brings
	// them what differs, at a version above any they saw.
	restoring bool
	stale     map[Listener]struct{}
	staleView map[string]*attr
	staleBase uint64 // the version staleView was at
	created0  bool   // whether the object was created in staleView
	// deferred are Uses that got their place while restoring: answered
	// with the restore, so their version is not below the old one.
	deferred []*pending
	// reusing are Uses a tombstone covered, on their way to be appended
	// again.
	reusing []*pending
	// staleReplies are the replies to stale listeners' own requests,
	// delivered with the restore.
	staleReplies map[Listener][]Event
}

// attr is one attribute: its AMF3 encoding (compared for change detection)
// and, once needed, its decoded value.
type attr struct {
	enc     []byte
	val     any
	decoded bool
}

type pendingKind uint8

const (
	pendingUse pendingKind = iota + 1
	pendingSubmit
	pendingHold
	pendingRestore
)

// pending is a request appended by this Manager and not yet applied.
type pending struct {
	kind      pendingKind
	l         Listener
	conn      ConnInfo
	ops       []op     // submit: the ops appended
	denials   []denial // submit: Status events for denied requests
	seq       uint64   // log position, once Append returned
	cancelled bool     // use: the listener released before the Use applied
	orphan    bool     // stored before the log restarted: applied if it is in the new log, else answered by the restore
	create    bool     // use, hold: creation allowed (to append it again)
	done      chan struct{}
}

// denial is a Status for a denied request, delivered with the requester's
// events after the first pos accepted ops.
type denial struct {
	pos int
	ev  Event
}

func newObject(m *Manager, id ObjectID) *object {
	o := &object{
		m:          m,
		id:         id,
		logger:     m.logger.With("scope", id.Scope, "name", id.Name),
		ready:      make(chan struct{}),
		unloaded:   make(chan struct{}),
		followDone: make(chan struct{}),
		attrs:      make(map[string]*attr),
		listeners:  members{idx: make(map[Listener]int)},
		pending:    make(map[uint64]*pending),
	}
	o.followCtx, o.stopFollow = context.WithCancel(context.Background())
	return o
}

// stopLingerLocked cancels a running linger. Manager.mu is held.
func (o *object) stopLingerLocked() {
	o.lingerGen++
	if o.linger != nil {
		o.linger.Stop()
		o.linger = nil
	}
}

// follow applies the object's log until the object is unloaded or the
// Manager stops, re-following after errors.
func (o *object) follow(ctx context.Context) {
	defer close(o.followDone)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(o.followCtx, cancel)
	defer stop()

	backoff := 100 * time.Millisecond
	for {
		err := o.m.log.Follow(ctx, o.id, o.onRecord)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			err = errors.New("follow ended")
		}
		o.logger.Warn("follow shared object log", "err", err, "retry_in", backoff)
		if !sleep(ctx, backoff) {
			return
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// effects are what applying a record asks for once object.mu is released.
type effects struct {
	unrefs   int
	snapshot bool // start writing a snapshot
	changes  []ChangeEvent
	observed bool         // collect changes
	restore  []op         // append a restore batch of these ops
	reuse    []*pending   // Uses and Holds to append again
	verify   []coverCheck // acknowledged batches that a snapshot may have covered
}

// coverCheck is a pending request whose acknowledged seq is at or below the
// newest snapshot applied: folded into it if the log no longer has the
// batch, else still to come (the log restarted and the follow has not
// noticed yet).
type coverCheck struct {
	req uint64
	p   *pending
	seq uint64
}

// onRecord applies one record from the log.
func (o *object) onRecord(r Record) {
	var fx effects
	obs := o.m.observersOf(o.id.key())
	fx.observed = len(obs) > 0
	o.mu.Lock()
	switch {
	case r.Reset:
		o.applyReset(&fx)
	case r.Snapshot:
		o.applySnapshot(r, &fx)
	default:
		o.applyBatch(r, &fx)
	}
	o.mu.Unlock()
	o.finish(&fx, obs)
}

// finish carries out fx outside object.mu.
func (o *object) finish(fx *effects, obs []*observer) {
	o.m.unref(o, fx.unrefs)
	if fx.snapshot {
		err := o.m.spawn(o.writeSnapshot)
		if err != nil {
			o.mu.Lock()
			o.snapshotting = false
			o.mu.Unlock()
		}
	}
	for _, c := range fx.changes {
		for _, ob := range obs {
			ob.fn(c)
		}
	}
	if fx.restore != nil {
		ops := fx.restore
		if err := o.m.spawn(func(ctx context.Context) { o.writeRestore(ctx, ops) }); err != nil {
			o.logger.Warn("restore shared object", "err", err)
		}
	}
	for _, p := range fx.reuse {
		err := o.m.spawn(func(ctx context.Context) {
			err := o.m.appendPending(ctx, o, p, []op{{kind: opUse, create: p.create}})
			o.mu.Lock()
			o.reusing = slices.DeleteFunc(o.reusing, func(q *pending) bool { return q == p })
			o.mu.Unlock()
			if err != nil {
				o.logger.Warn("use shared object again after its drop", "err", err)
			}
		})
		if err != nil {
			o.logger.Warn("use shared object again after its drop", "err", err)
		}
	}
	for _, c := range fx.verify {
		if err := o.m.spawn(func(ctx context.Context) { o.verifyCovered(ctx, c) }); err != nil {
			o.logger.Debug("check covered shared object batch", "err", err)
		}
	}
}

// verifyCovered answers c's request as folded into a snapshot if the log
// no longer has its batch. If it has, the follow delivers it (after a
// Reset, if the log restarted).
func (o *object) verifyCovered(ctx context.Context, c coverCheck) {
	ctx, cancel := o.taskContext(ctx)
	defer cancel()
	var has bool
	var err error
	for attempt := 1; ; attempt++ {
		if has, err = o.m.log.Has(ctx, o.id, c.seq); err == nil || attempt == 5 {
			break
		}
		o.logger.Debug("check covered shared object batch", "seq", c.seq, "err", err, "attempt", attempt)
		if !sleep(ctx, time.Duration(attempt)*200*time.Millisecond) {
			return
		}
	}
	if err != nil {
		o.logger.Warn("check covered shared object batch; the next snapshot checks again", "seq", c.seq, "err", err)
		return
	}
	if has {
		return
	}
	var fx effects
	o.mu.Lock()
	if o.pending[c.req] == c.p && c.p.seq == c.seq && o.coverSeq >= c.seq {
		delete(o.pending, c.req)
		o.answerCovered(c.p, &fx)
	}
	o.mu.Unlock()
	o.finish(&fx, nil)
}

// writeSnapshot stores the replica's state as of its last record. If
// records came meanwhile, it tries again with them, a few times.
func (o *object) writeSnapshot(ctx context.Context) {
	var err error
	var version uint64
	for range 3 {
		o.mu.Lock()
		seq, data := o.lastSeq, o.encodeSnapshot()
		version = o.version
		o.mu.Unlock()
		err = o.m.log.Snapshot(ctx, o.id, seq, data)
		if err == nil {
			o.logger.Debug("snapshot written", "version", version, "seq", seq, "bytes", len(data))
			break
		}
		o.logger.Debug("snapshot not written", "version", version, "seq", seq, "err", err)
		if !errors.Is(err, ErrSnapshotStale) {
			o.logger.Warn("write snapshot", "version", version, "err", err)
			break
		}
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.snapshotting = false
	if err == nil {
		o.snapVersion = max(o.snapVersion, version)
	} else {
		// Busy objects make snapshots stale; do not try again for every
		// batch.
		o.snapRetry = o.version + uint64(o.m.cfg.SnapshotEvery)/8 + 1
	}
}

// applyBatch applies one batch: one version, events to local listeners.
func (o *object) applyBatch(r Record, fx *effects) {
	if r.Seq <= o.lastSeq {
		return // seen before a re-follow
	}
	o.lastSeq = r.Seq
	o.version++
	bt, err := decodeBatch(r.Data)
	if err != nil {
		// Every node skips it alike, so replicas stay equal.
		o.logger.Error("skip undecodable shared object batch", "seq", r.Seq, "err", err)
	}
	var p *pending
	if bt.req != 0 && bt.node == o.m.cfg.NodeID && bt.session == o.m.session {
		if p = o.pending[bt.req]; p != nil {
			delete(o.pending, bt.req)
		}
	}
	// The requester, if it is a local listener, gets its own events.
	var req Listener
	if p != nil && p.kind == pendingSubmit {
		if o.listeners.has(p.l) {
			req = p.l
		}
	}
	skipSets := false // a restore older than one applied before
	var mine, others []Event
	reply := func(ev Event) { // to the requester
		if req != nil {
			mine = append(mine, ev)
		}
	}
	next := 0 // next denial of p
	for i := range bt.ops {
		if req != nil {
			mine, next = p.flushDenials(mine, i, next)
		}
		op := &bt.ops[i]
		if op.kind != opUse && op.kind != opRestore && !skipSets {
			o.created = true
		}
		switch op.kind {
		case opUse:
			o.applyUse(op, p, fx)
		case opRestore:
			o.version = max(o.version, op.base+1)
			skipSets = op.base < o.restoredBase
			o.restoredBase = max(o.restoredBase, op.base)
			o.created = o.created || (op.create && !skipSets)
		case opSet:
			if skipSets {
				continue
			}
			old, existed := o.attrs[op.key]
			switch {
			case op.value == nil:
				if existed {
					o.del(op.key, old)
					others = append(others, Event{Type: somsg.Remove, Key: op.key})
					fx.change(o, ChangeRemove, op.key, nil, bt.node)
				}
			case !existed || !bytes.Equal(old.enc, op.value):
				a := o.put(op.key, op.value, old)
				v := o.value(a)
				others = append(others, Event{Type: somsg.Change, Key: op.key, Value: v})
				fx.change(o, ChangeSet, op.key, v, bt.node)
			}
			reply(Event{Type: somsg.Success, Key: op.key})
		case opRemove:
			ev := Event{Type: somsg.Remove, Key: op.key}
			if old, existed := o.attrs[op.key]; existed {
				o.del(op.key, old)
				others = append(others, ev)
				fx.change(o, ChangeRemove, op.key, nil, bt.node)
			}
			reply(ev)
		case opSend:
			ev := Event{Type: somsg.SendMessage, Handler: op.key, Args: o.args(op)}
			reply(ev)
			others = append(others, ev)
			if fx.observed {
				fx.changes = append(fx.changes, ChangeEvent{
					Object: o.id, Version: o.version,
					Kind: ChangeSend, Handler: ev.Handler, Args: ev.Args, Node: bt.node,
				})
			}
		case opClear:
			for _, k := range slices.Sorted(maps.Keys(o.attrs)) {
				ev := Event{Type: somsg.Remove, Key: k}
				reply(ev)
				others = append(others, ev)
			}
			clear(o.attrs)
			o.size = 0
			reply(Event{Type: somsg.Clear})
			fx.change(o, ChangeClear, "", nil, bt.node)
		}
	}
	if req != nil {
		mine, _ = p.flushDenials(mine, len(bt.ops), next)
	}
	if req != nil && len(mine) > 0 {
		if o.isStale(req) {
			o.staleReplies[req] = append(o.staleReplies[req], mine...)
		} else {
			req.Deliver(o.id, o.version, mine)
		}
	}
	if len(others) > 0 {
		for _, mb := range o.listeners.list {
			if mb.l != req && !o.isStale(mb.l) {
				mb.l.Deliver(o.id, o.version, others)
			}
		}
	}
	if p != nil && p.kind == pendingRestore {
		o.finishRestore(fx)
	}

	if every := uint64(o.m.cfg.SnapshotEvery); o.m.cfg.SnapshotEvery > 0 && !o.snapshotting && o.version >= o.snapRetry {
		since := o.version - o.snapVersion
		if since >= every && (bt.node == o.m.cfg.NodeID || since >= 2*every) {
			o.snapshotting = true
			fx.snapshot = true
		}
	}
}

// applyUse applies a Use (or a Hold) op.
func (o *object) applyUse(op *op, p *pending, fx *effects) {
	if !o.created && op.create {
		o.created = true
	}
	if p != nil {
		o.completeUse(p, fx)
	}
}

// completeUse answers a Use or Hold of this node once it has its place in
// the object's order.
func (o *object) completeUse(p *pending, fx *effects) {
	switch p.kind {
	case pendingRestore:
		o.finishRestore(fx)
	case pendingHold:
		close(p.done)
	case pendingUse:
		if p.cancelled {
			return // Release already dropped its reference
		}
		if o.restoring {
			o.deferred = append(o.deferred, p)
			return
		}
		if !o.created {
			p.l.Deliver(o.id, 0, []Event{statusEvent(somsg.CodeObjectCreationFailed,
				"creation of "+o.id.String()+" denied")})
			fx.unrefs++
			return
		}
		if !o.listeners.add(p.l, p.conn) {
			fx.unrefs++ // a second Use of the same listener holds no more
		}
		p.l.Deliver(o.id, o.version, o.initialEvents())
	}
}

// initialEvents are what a joining client gets: UseSuccess, Clear for a
// transient object, then a Change per attribute.
func (o *object) initialEvents() []Event {
	evs := make([]Event, 0, 2+len(o.attrs))
	evs = append(evs, Event{Type: somsg.UseSuccess})
	if !o.id.Persistent {
		evs = append(evs, Event{Type: somsg.Clear})
	}
	for _, k := range slices.Sorted(maps.Keys(o.attrs)) {
		evs = append(evs, Event{Type: somsg.Change, Key: k, Value: o.value(o.attrs[k])})
	}
	return evs
}

// completeCovered answers this node's pending requests at or before seq
// whose batches this node never applied: they were folded into a snapshot
// before it followed them. Their effects are in the state; the requesters
// get the replies they would have had. A Use is answered at once; a write
// once the log confirms it no longer has the batch (its seq may instead
// come from a log that restarted, whose batches are still to come).
func (o *object) completeCovered(seq uint64, fx *effects) {
	var covered []*pending
	for id, p := range o.pending {
		switch {
		case p.seq == 0 || p.seq > seq:
		case p.kind == pendingSubmit:
			fx.verify = append(fx.verify, coverCheck{req: id, p: p, seq: p.seq})
		default:
			delete(o.pending, id)
			covered = append(covered, p)
		}
	}
	slices.SortFunc(covered, func(a, b *pending) int { return cmp.Compare(a.seq, b.seq) })
	for _, p := range covered {
		o.completeUse(p, fx)
	}
}

// answerCovered answers p, whose batch was folded into a snapshot. A stale
// requester gets its replies with the restore, which brings the values.
// object.mu is held.
func (o *object) answerCovered(p *pending, fx *effects) {
	if p.kind != pendingSubmit {
		o.completeUse(p, fx)
		return
	}
	if !o.listeners.has(p.l) {
		return
	}
	if o.isStale(p.l) {
		o.staleReplies[p.l] = append(o.staleReplies[p.l], o.plainReplies(p)...)
		return
	}
	if evs := o.coveredReplies(p); len(evs) > 0 {
		p.l.Deliver(o.id, o.version, evs)
	}
}

// plainReplies are the replies p's requester would have had for its batch,
// without values.
func (o *object) plainReplies(p *pending) []Event {
	var evs []Event
	next := 0
	for i, op := range p.ops {
		evs, next = p.flushDenials(evs, i, next)
		switch op.kind {
		case opSet:
			evs = append(evs, Event{Type: somsg.Success, Key: op.key})
		case opRemove:
			evs = append(evs, Event{Type: somsg.Remove, Key: op.key})
		case opSend:
			evs = append(evs, Event{Type: somsg.SendMessage, Handler: op.key, Args: o.args(&op)})
		case opClear:
			evs = append(evs, Event{Type: somsg.Clear})
		}
	}
	evs, _ = p.flushDenials(evs, len(p.ops), next)
	return evs
}

// coveredReplies are the events a requester gets for a batch folded into a
// snapshot: the replies it would have had, then the current value of every
// key it changed, because its replies came after other clients' changes
// that it would have seen before them.
func (o *object) coveredReplies(p *pending) []Event {
	var evs []Event
	next := 0
	var written []string
	cleared := false
	for i, op := range p.ops {
		evs, next = p.flushDenials(evs, i, next)
		switch op.kind {
		case opSet:
			evs = append(evs, Event{Type: somsg.Success, Key: op.key})
			written = append(written, op.key)
		case opRemove:
			evs = append(evs, Event{Type: somsg.Remove, Key: op.key})
			written = append(written, op.key)
		case opSend:
			evs = append(evs, Event{Type: somsg.SendMessage, Handler: op.key, Args: o.args(&op)})
		case opClear:
			evs = append(evs, Event{Type: somsg.Clear})
			cleared = true
		}
	}
	evs, _ = p.flushDenials(evs, len(p.ops), next)
	if cleared {
		written = slices.Sorted(maps.Keys(o.attrs))
	}
	slices.Sort(written)
	for _, k := range slices.Compact(written) {
		if a := o.attrs[k]; a != nil {
			evs = append(evs, Event{Type: somsg.Change, Key: k, Value: o.value(a)})
		} else if !cleared {
			evs = append(evs, Event{Type: somsg.Remove, Key: k})
		}
	}
	return evs
}

// flushDenials appends the denials due before accepted op pos, starting at
// denial next, and returns the index of the next one.
func (p *pending) flushDenials(evs []Event, pos, next int) ([]Event, int) {
	for next < len(p.denials) && p.denials[next].pos <= pos {
		evs = append(evs, p.denials[next].ev)
		next++
	}
	return evs, next
}

// applySnapshot adopts a snapshot the replica is behind of, telling local
// listeners what changed.
func (o *object) applySnapshot(r Record, fx *effects) {
	s, err := decodeSnapshot(r.Data)
	if err != nil {
		o.logger.Error("skip undecodable shared object snapshot", "seq", r.Seq, "err", err)
		return
	}
	o.lastSeq = max(o.lastSeq, r.Seq)
	o.coverSeq = max(o.coverSeq, r.Seq)
	o.snapVersion = max(o.snapVersion, s.version)
	if s.version <= o.version {
		o.completeCovered(r.Seq, fx)
		return // already applied what it holds
	}
	old := o.attrs
	if s.dropped {
		o.applyTombstone(r.Seq, fx)
	}
	o.attrs = make(map[string]*attr, len(s.attrs))
	o.size = 0
	var evs []Event
	for _, sa := range s.attrs {
		prev := old[sa.key]
		a := o.put(sa.key, sa.value, nil)
		if prev == nil || !bytes.Equal(prev.enc, sa.value) {
			v := o.value(a)
			evs = append(evs, Event{Type: somsg.Change, Key: sa.key, Value: v})
			fx.change(o, ChangeSet, sa.key, v, "")
		}
	}
	for _, k := range slices.Sorted(maps.Keys(old)) {
		if o.attrs[k] == nil {
			evs = append(evs, Event{Type: somsg.Remove, Key: k})
			fx.change(o, ChangeRemove, k, nil, "")
		}
	}
	o.version = s.version
	o.created = s.created
	o.restoredBase = s.restored
	if len(evs) > 0 {
		for _, mb := range o.listeners.list {
			if !o.isStale(mb.l) {
				mb.l.Deliver(o.id, o.version, evs)
			}
		}
	}
	o.completeCovered(r.Seq, fx)
}

// applyTombstone prepares for a tombstone at seq, before it replaces the
// state. Uses and Holds of this node that it covers are appended again:
// the object they used is gone. If this node still has clients (another
// node dropped the object because it did not see this one: a partition
// longer than the presence TTL), it writes their copy back, with the
// covered writes of this node, which the drop erased before this node
// applied them. object.mu is held.
func (o *object) applyTombstone(seq uint64, fx *effects) {
	var covered []*pending
	for id, p := range o.pending {
		if p.seq == 0 || p.seq > seq {
			continue
		}
		switch p.kind {
		case pendingUse, pendingHold:
			delete(o.pending, id)
			if !p.cancelled {
				p.seq = 0
				o.reusing = append(o.reusing, p)
				fx.reuse = append(fx.reuse, p)
			}
		case pendingSubmit:
			covered = append(covered, p)
		}
	}
	if len(o.listeners.list) == 0 || (len(o.attrs) == 0 && len(covered) == 0) {
		return
	}
	lost := maps.Clone(o.attrs)
	slices.SortFunc(covered, func(a, b *pending) int { return cmp.Compare(a.seq, b.seq) })
	for _, p := range covered {
		for _, op := range p.ops {
			switch {
			case op.kind == opSet && op.value != nil:
				lost[op.key] = &attr{enc: op.value}
			case op.kind == opSet || op.kind == opRemove:
				delete(lost, op.key)
			case op.kind == opClear:
				clear(lost)
			}
		}
	}
	o.logger.Info("shared object dropped elsewhere while in use here; restoring this node's copy",
		"version", o.version, "attributes", len(lost))
	o.beginRestore(lost, o.version, o.created || len(lost) > 0, fx)
}

// applyReset starts the replica again from an empty object because the
// log restarted (its storage was lost, or it was erased with no snapshot
// after it) and the records that follow build the object from nothing.
// What the log lost is written back by a restore batch, which also lifts
// the version above any a local client saw.
func (o *object) applyReset(fx *effects) {
	o.logger.Info("shared object log restarted; restoring this node's copy",
		"version", o.version, "attributes", len(o.attrs))
	lost, base, created := o.attrs, o.version, o.created
	o.attrs = make(map[string]*attr)
	o.size = 0
	o.version, o.lastSeq, o.coverSeq, o.snapVersion, o.snapRetry, o.restoredBase = 0, 0, 0, 0, 0, 0
	o.created = false
	orphans := false
	for id, p := range o.pending {
		if p.seq == 0 {
			continue // on its way: it lands in the new log
		}
		// Stored in the lost log, or in the new one before the follow
		// noticed the restart: applied (matched by its request id) if it
		// is in the new log, answered by the restore otherwise.
		switch p.kind {
		case pendingSubmit, pendingUse, pendingHold:
			p.seq, p.orphan = 0, true
			orphans = true
		case pendingRestore:
			delete(o.pending, id) // a new restore replaces it
		}
	}
	if base > 0 || orphans || o.restoring {
		o.beginRestore(lost, base, created, fx)
	}
}

// beginRestore asks for a restore batch writing back lost, the state this
// replica had at version base (created or not), and keeps the current
// listeners on their view until this node applies it. A restart before
// that restore was applied writes back the first copy again, at the
// higher base. object.mu is held.
func (o *object) beginRestore(lost map[string]*attr, base uint64, created bool, fx *effects) {
	if o.restoring {
		lost, created = o.staleView, o.created0
		base = max(base, o.staleBase)
	} else {
		o.restoring = true
		o.stale = make(map[Listener]struct{}, len(o.listeners.list))
		o.staleReplies = make(map[Listener][]Event)
	}
	o.staleView, o.staleBase, o.created0 = lost, base, created
	// The listeners that joined since an earlier restart see a diff
	// against the first view.
	for _, mb := range o.listeners.list {
		o.stale[mb.l] = struct{}{}
	}
	ops := make([]op, 0, 1+len(lost))
	ops = append(ops, op{kind: opRestore, base: base, create: created})
	for _, k := range slices.Sorted(maps.Keys(lost)) {
		ops = append(ops, op{kind: opSet, key: k, value: lost[k].enc})
	}
	fx.restore = ops
}

// finishRestore ends a restore once this node applied its batch: the stale
// listeners get what differs from their view, at the current version, and
// Uses stored in a lost log are answered. object.mu is held.
func (o *object) finishRestore(fx *effects) {
	if o.restoring {
		var evs []Event
		for _, k := range slices.Sorted(maps.Keys(o.attrs)) {
			a := o.attrs[k]
			if prev := o.staleView[k]; prev == nil || !bytes.Equal(prev.enc, a.enc) {
				evs = append(evs, Event{Type: somsg.Change, Key: k, Value: o.value(a)})
			}
		}
		for _, k := range slices.Sorted(maps.Keys(o.staleView)) {
			if o.attrs[k] == nil {
				evs = append(evs, Event{Type: somsg.Remove, Key: k})
			}
		}
		for _, mb := range o.listeners.list {
			if !o.isStale(mb.l) {
				continue
			}
			if mine := o.staleReplies[mb.l]; len(mine) > 0 || len(evs) > 0 {
				mb.l.Deliver(o.id, o.version, append(slices.Clip(mine), evs...))
			}
		}
		o.restoring, o.stale, o.staleView, o.staleReplies = false, nil, nil, nil
		deferred := o.deferred
		o.deferred = nil
		for _, p := range deferred {
			o.completeUse(p, fx)
		}
	}
	// Requests stored before the restart and not in the new log were lost
	// with the old one: its restore comes after them in the new log.
	for id, p := range o.pending {
		if !p.orphan {
			continue
		}
		delete(o.pending, id)
		p.orphan = false
		if p.kind != pendingSubmit {
			o.completeUse(p, fx)
			continue
		}
		if o.listeners.has(p.l) {
			evs := make([]Event, 0, len(p.denials)+1)
			for _, d := range p.denials {
				evs = append(evs, d.ev)
			}
			evs = append(evs, statusEvent(CodeWriteFailed, "the change was lost with the shared object's log"))
			p.l.Deliver(o.id, o.version, evs)
		}
	}
}

// isStale reports whether l waits for a restore. object.mu is held.
func (o *object) isStale(l Listener) bool {
	_, ok := o.stale[l]
	return ok
}

// writeRestore appends a restore batch of ops, retrying until it is stored
// or the object is unloaded.
func (o *object) writeRestore(ctx context.Context, ops []op) {
	ctx, cancel := o.taskContext(ctx)
	defer cancel()
	p := &pending{kind: pendingRestore}
	backoff := 100 * time.Millisecond
	for {
		req, data := o.m.register(o, p, ops)
		seq, err := o.m.log.Append(ctx, o.id, data)
		o.settle(req, p, seq, err)
		if err == nil {
			o.logger.Debug("shared object restore stored", "seq", seq, "attributes", len(ops)-1)
			return
		}
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, ErrTooLarge) && len(ops) > 1 {
			o.logger.Error("shared object copy too large to write back; restoring its version only",
				"attributes", len(ops)-1, "err", err)
			ops = ops[:1]
			continue
		}
		o.logger.Warn("store shared object restore", "err", err, "retry_in", backoff)
		if !sleep(ctx, backoff) {
			return
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// taskContext returns ctx, also cancelled when the object is unloaded.
func (o *object) taskContext(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(o.followCtx, cancel)
	return ctx, func() { stop(); cancel() }
}

// sleep waits d; it reports false if ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func (o *object) encodeSnapshot() []byte {
	s := snapshot{version: o.version, created: o.created, restored: o.restoredBase, attrs: make([]snapAttr, 0, len(o.attrs))}
	for _, k := range slices.Sorted(maps.Keys(o.attrs)) {
		s.attrs = append(s.attrs, snapAttr{key: k, value: o.attrs[k].enc})
	}
	return s.appendTo(make([]byte, 0, 16+o.size+4*len(o.attrs)))
}

// put stores enc under key, replacing old (which may be nil).
func (o *object) put(key string, enc []byte, old *attr) *attr {
	if old != nil {
		o.size -= len(key) + len(old.enc)
	}
	a := &attr{enc: enc}
	o.attrs[key] = a
	o.size += len(key) + len(enc)
	return a
}

func (o *object) del(key string, old *attr) {
	delete(o.attrs, key)
	o.size -= len(key) + len(old.enc)
}

// value returns a's decoded value, decoding it on first use.
func (o *object) value(a *attr) any {
	if !a.decoded {
		a.val = o.decode(a.enc)
		a.decoded = true
	}
	return a.val
}

func (o *object) decode(enc []byte) any {
	if o.dec == nil {
		o.dec = amf.NewDecoder3(enc, amf.DefaultLimits)
	} else {
		o.dec.Reset(enc)
	}
	v, err := o.dec.Decode()
	if err != nil {
		o.logger.Error("decode stored shared object value", "err", err)
		return nil
	}
	return v
}

// args decodes the arguments of a send op.
func (o *object) args(op *op) []any {
	if op.nilArgs {
		return nil
	}
	args := []any{}
	if len(op.value) == 0 {
		return args
	}
	if o.dec == nil {
		o.dec = amf.NewDecoder3(op.value, amf.DefaultLimits)
	} else {
		o.dec.Reset(op.value)
	}
	for o.dec.More() {
		v, err := o.dec.Decode()
		if err != nil {
			o.logger.Error("decode shared object message arguments", "handler", op.key, "err", err)
			break
		}
		args = append(args, v)
	}
	return args
}

func statusEvent(code, description string) Event {
	return Event{Type: somsg.Status, Code: code, Level: somsg.LevelError, Description: description}
}

// members are the local listeners of an object, in a slice for fast
// delivery and indexed for lookups.
type members struct {
	idx  map[Listener]int
	list []member
}

type member struct {
	l    Listener
	conn ConnInfo
}

func (ms *members) has(l Listener) bool {
	_, ok := ms.idx[l]
	return ok
}

// add adds l and reports whether it was new.
func (ms *members) add(l Listener, conn ConnInfo) bool {
	if ms.has(l) {
		return false
	}
	ms.idx[l] = len(ms.list)
	ms.list = append(ms.list, member{l: l, conn: conn})
	return true
}

// remove removes l and reports whether it was there.
func (ms *members) remove(l Listener) bool {
	i, ok := ms.idx[l]
	if !ok {
		return false
	}
	last := len(ms.list) - 1
	if i != last {
		ms.list[i] = ms.list[last]
		ms.idx[ms.list[i].l] = i
	}
	ms.list[last] = member{}
	ms.list = ms.list[:last]
	delete(ms.idx, l)
	return true
}
