package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Errors returned by ObjectLog.
var (
	// ErrSnapshotStale is returned by Snapshot and Drop when the object's
	// log has records after lastSeq; nothing was written or erased.
	ErrSnapshotStale = errors.New("snapshot stale: log has newer records")
	// ErrTooLarge is returned for a batch or snapshot over MaxMsgSize.
	ErrTooLarge = errors.New("message too large")
	// ErrAckTimeout is passed to an AppendAsync callback when no
	// acknowledgement came within AckTimeout. The batch may or may not have
	// been stored.
	ErrAckTimeout = errors.New("append not acknowledged in time")
	// ErrClosed is returned after the cluster has shut down. A pending
	// AppendAsync failed with it may or may not have been stored.
	ErrClosed = errors.New("cluster closed")
)

// Record is one entry of an object's log, as Follow delivers it.
type Record struct {
	// Seq is the entry's stream sequence: it rises with every batch of
	// the object and is the object's version after applying the entry.
	Seq uint64
	// Snapshot means Data is a whole state written by Snapshot, which
	// replaces any state built so far, not a batch to apply.
	Snapshot bool
	// Data is the batch or state. Fn may keep it.
	Data []byte
	// Pending is how many later entries the server knew of when it
	// delivered this one; 0 means the follower had caught up.
	Pending uint64
	// Reset means the object's log restarted while this Follow was away
	// (its stream was recreated or came back empty, or its records were
	// erased with no snapshot after them): the records that follow start from an empty
	// object, as for a new follower. A Reset record has Seq 0 and no Data.
	Reset bool
}

// ObjectLog is the ordered, durable change log of every shared object: one
// JetStream subject per object, one message per batch, the stream sequence
// as the version. Its methods are safe for concurrent use.
//
// Snapshots are messages of the object's subject too. Writing one erases
// the entries before the previous snapshot, not those before itself: a
// follower that is behind (by less than the entries between two
// snapshots) still gets every batch, and a new follower starts at a
// snapshot, or at the object's first batch.
//
// Dropping an object writes a tombstone, a snapshot of the empty object,
// and erases everything before it, so that a follower that was away learns
// of the drop like of any other snapshot; the janitor erases the tombstone
// later (Purge). A log that restarts under a follower in another way (its
// stream recreated, its entries erased with no snapshot after them) reaches
// the follower as a Reset record.
type ObjectLog struct {
	js         jetstream.JetStream
	streams    map[string]jetstream.Stream // by stream name
	maxMsgSize int
	logger     *slog.Logger
	async      *asyncPublisher
	// lastSeq holds, per stream name (fixed at construction), the highest
	// stream sequence this process saw: in acknowledgements, deliveries and
	// stream infos (see resyncReason).
	lastSeq map[string]*atomic.Uint64

	mu struct {
		sync.Mutex
		// snaps holds, per object some Follow of this process follows,
		// the sequences of the two newest snapshots it delivered.
		snaps map[ObjectID]snapSeqs
		// created holds, per stream name, the stream's creation time as
		// the cluster last saw it after connecting.
		created map[string]time.Time
		// resync holds, per stream name, the channel Resync closes (and
		// replaces).
		resync map[string]chan struct{}
		// consumers holds, per stream name, the follow consumers of this
		// process by name, with when each was created.
		consumers map[string]map[string]time.Time
	}
}

func newObjectLog(nc *nats.Conn, js jetstream.JetStream, streams map[string]jetstream.Stream, cfg Config, logger *slog.Logger) (*ObjectLog, error) {
	l := &ObjectLog{
		js:         js,
		streams:    streams,
		maxMsgSize: int(cfg.MaxMsgSize),
		logger:     logger,
		lastSeq:    make(map[string]*atomic.Uint64, len(streams)),
	}
	async, err := newAsyncPublisher(nc, cfg.MaxPendingAppends, l.noteSeq, logger)
	if err != nil {
		return nil, err
	}
	l.async = async
	l.mu.snaps = make(map[ObjectID]snapSeqs)
	l.mu.created = make(map[string]time.Time, len(streams))
	l.mu.resync = make(map[string]chan struct{}, len(streams))
	l.mu.consumers = make(map[string]map[string]time.Time, len(streams))
	for name, s := range streams {
		info := s.CachedInfo()
		l.lastSeq[name] = new(atomic.Uint64)
		l.lastSeq[name].Store(info.State.LastSeq)
		l.mu.created[name] = info.Created
		l.mu.resync[name] = make(chan struct{})
		l.mu.consumers[name] = make(map[string]time.Time)
	}
	return l, nil
}

// Append stores data as the next batch of obj and returns its sequence once
// JetStream has acknowledged it (stored on a quorum of replicas).
func (l *ObjectLog) Append(ctx context.Context, obj ObjectID, data []byte) (uint64, error) {
	if len(data) > l.maxMsgSize {
		return 0, fmt.Errorf("append to %s: %d bytes: %w", obj, len(data), ErrTooLarge)
	}
	ack, err := l.js.Publish(ctx, ObjectSubject(obj), data)
	if err != nil {
		return 0, fmt.Errorf("append to %s: %w", obj, err)
	}
	l.noteSeq(ack.Stream, ack.Sequence)
	return ack.Sequence, nil
}

// AppendAsync publishes data as the next batch of obj without waiting for
// the acknowledgement, and later calls done exactly once with the batch's
// sequence or an error. Appends from one process keep the order of their
// AppendAsync calls (one connection keeps publish order). When
// MaxPendingAppends are unacknowledged, AppendAsync waits for a free slot
// or ctx. If AppendAsync returns an error, done is never called.
//
// done runs on the connection's acknowledgement goroutine, in ack order,
// and must not block.
func (l *ObjectLog) AppendAsync(ctx context.Context, obj ObjectID, data []byte, done func(seq uint64, err error)) error {
	if len(data) > l.maxMsgSize {
		return fmt.Errorf("append to %s: %d bytes: %w", obj, len(data), ErrTooLarge)
	}
	if err := l.async.publish(ctx, ObjectSubject(obj), streamName(obj), data, done); err != nil {
		return fmt.Errorf("append to %s: %w", obj, err)
	}
	return nil
}

// Snapshot appends state, the object's whole state as of entry lastSeq, to
// obj's log. It succeeds only if lastSeq is still the sequence of the
// object's last entry (0 for an empty log), so a snapshot always follows
// the batches it includes; otherwise it returns ErrSnapshotStale and
// changes nothing.
//
// Then it erases the entries before the newest snapshot a Follow of this
// process has delivered, if any: the log keeps the previous snapshot, the
// batches after it and this one. Erasing up to this snapshot at once (a
// roll-up) would take batches from followers that are a little behind,
// and with them the messages (SendMessage) no snapshot holds. A failed
// erase is logged; the next snapshot erases the same and more.
func (l *ObjectLog) Snapshot(ctx context.Context, obj ObjectID, lastSeq uint64, state []byte) error {
	if len(state) > l.maxMsgSize {
		return fmt.Errorf("snapshot %s: %d bytes: %w", obj, len(state), ErrTooLarge)
	}
	msg := &nats.Msg{
		Subject: ObjectSubject(obj),
		Data:    state,
		Header:  nats.Header{snapshotHeader: []string{"1"}},
	}
	ack, err := l.js.PublishMsg(ctx, msg, jetstream.WithExpectLastSequencePerSubject(lastSeq))
	if apiErr := (*jetstream.APIError)(nil); errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence {
		return fmt.Errorf("snapshot %s at %d: %w (%s)", obj, lastSeq, ErrSnapshotStale, apiErr.Description)
	}
	if err != nil {
		return fmt.Errorf("snapshot %s at %d: %w", obj, lastSeq, err)
	}
	l.noteSeq(ack.Stream, ack.Sequence)
	l.mu.Lock()
	prev := l.mu.snaps[obj].before(ack.Sequence)
	l.mu.Unlock()
	if prev == 0 {
		return nil
	}
	if s, ok := l.streams[streamName(obj)]; ok {
		if err := s.Purge(ctx, jetstream.WithPurgeSubject(ObjectSubject(obj)), jetstream.WithPurgeSequence(prev)); err != nil {
			l.logger.Warn("erase log entries before a snapshot", "object", obj.String(), "before_seq", prev, "error", err)
		}
	}
	return nil
}

// snapSeqs are the sequences of the two newest snapshots of an object a
// Follow delivered, 0 for none.
type snapSeqs struct{ newest, previous uint64 }

// before returns the newest of them below seq (a follower may deliver a
// snapshot before its writer has the acknowledgement), or 0.
func (s snapSeqs) before(seq uint64) uint64 {
	switch {
	case s.newest != 0 && s.newest < seq:
		return s.newest
	case s.previous != 0 && s.previous < seq:
		return s.previous
	}
	return 0
}

// noteSnapshot records that a Follow delivered a snapshot of obj at seq.
func (l *ObjectLog) noteSnapshot(obj ObjectID, seq uint64) {
	l.mu.Lock()
	if s := l.mu.snaps[obj]; seq > s.newest {
		l.mu.snaps[obj] = snapSeqs{newest: seq, previous: s.newest}
	}
	l.mu.Unlock()
}

// forgetSnapshots forgets the snapshots a Follow delivered of obj: they
// belong to a log that restarted, and erasing before them could take
// entries of the new one.
func (l *ObjectLog) forgetSnapshots(obj ObjectID) {
	l.mu.Lock()
	delete(l.mu.snaps, obj)
	l.mu.Unlock()
}

// Drop ends obj's life in the log: it appends tombstone, the state of the
// empty object, as a snapshot, and then erases every entry before it. Like
// Snapshot it succeeds only if lastSeq is still the sequence of the
// object's last entry (0 for an empty log), so a batch appended by another
// node after the caller looked is never erased; otherwise it returns
// ErrSnapshotStale and changes nothing.
//
// The tombstone stays as the object's only entry: a follower, live or
// behind, gets it as a snapshot of the empty object, and so does a new
// one. The janitor erases it once it is older than Linger plus
// PresenceTTL (see Janitor). If the erase fails after the tombstone was
// written, Drop returns the error; followers still see the tombstone.
func (l *ObjectLog) Drop(ctx context.Context, obj ObjectID, lastSeq uint64, tombstone []byte) error {
	if len(tombstone) > l.maxMsgSize {
		return fmt.Errorf("drop %s: %d bytes: %w", obj, len(tombstone), ErrTooLarge)
	}
	s, ok := l.streams[streamName(obj)]
	if !ok {
		return fmt.Errorf("drop %s: stream %s unknown", obj, streamName(obj))
	}
	msg := &nats.Msg{
		Subject: ObjectSubject(obj),
		Data:    tombstone,
		Header:  nats.Header{snapshotHeader: []string{"1"}},
	}
	ack, err := l.js.PublishMsg(ctx, msg, jetstream.WithExpectLastSequencePerSubject(lastSeq))
	if apiErr := (*jetstream.APIError)(nil); errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence {
		return fmt.Errorf("drop %s at %d: %w (%s)", obj, lastSeq, ErrSnapshotStale, apiErr.Description)
	}
	if err != nil {
		return fmt.Errorf("drop %s at %d: %w", obj, lastSeq, err)
	}
	l.noteSeq(ack.Stream, ack.Sequence)
	if err := s.Purge(ctx, jetstream.WithPurgeSubject(ObjectSubject(obj)), jetstream.WithPurgeSequence(ack.Sequence)); err != nil {
		return fmt.Errorf("drop %s: erase entries before tombstone %d: %w", obj, ack.Sequence, err)
	}
	return nil
}

// Purge erases obj's entries with a sequence up to upTo, or all of them if
// upTo is 0; later entries stay. It writes no tombstone: a follower that
// was away when Purge erased its entries gets a Reset record before later
// ones. The janitor purges the entries it found orphaned, up to the newest
// it examined, so that a batch appended meanwhile survives.
func (l *ObjectLog) Purge(ctx context.Context, obj ObjectID, upTo uint64) error {
	s, ok := l.streams[streamName(obj)]
	if !ok {
		return fmt.Errorf("purge %s: stream %s unknown", obj, streamName(obj))
	}
	opts := []jetstream.StreamPurgeOpt{jetstream.WithPurgeSubject(ObjectSubject(obj))}
	if upTo > 0 {
		opts = append(opts, jetstream.WithPurgeSequence(upTo+1)) // erases below it
	}
	if err := s.Purge(ctx, opts...); err != nil {
		return fmt.Errorf("purge %s up to %d: %w", obj, upTo, err)
	}
	return nil
}

// Head returns the sequence of obj's last entry, or 0 if its log is empty.
// A follower that has seen Head has caught up with the log as it was.
func (l *ObjectLog) Head(ctx context.Context, obj ObjectID) (uint64, error) {
	s, ok := l.streams[streamName(obj)]
	if !ok {
		return 0, fmt.Errorf("head of %s: stream %s unknown", obj, streamName(obj))
	}
	m, err := s.GetLastMsgForSubject(ctx, ObjectSubject(obj))
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("head of %s: %w", obj, err)
	}
	return m.Sequence, nil
}

// Follow calls fn with obj's log from its first entry (a snapshot, Snapshot
// set, or the object's first batch) and then every later entry in order,
// live, until ctx is done; then it returns nil. Snapshots also arrive later
// (a node wrote one); a snapshot replaces the state and, being guarded by
// Snapshot, equals the state the entries before it built. A follower that
// falls behind by more than the entries between two snapshots finds the
// entries it missed erased and gets the newer snapshot next. fn is called
// from the goroutine that called Follow. Follow survives reconnects,
// server restarts and the loss of the server its consumer lives on by
// resuming after the last delivered entry; it returns an error only once
// the connection is closed.
//
// Before resuming, Follow checks that the log it follows did not restart
// meanwhile: if the stream was recreated (a memory stream lost with its
// server), or the last delivered entry is no longer the object's (erased,
// or the stream came back empty and reused its sequence) and the object's
// next entry is not a snapshot (or there is none), fn gets a Reset record
// and then the object's log from its first entry, as a new follower
// would. The recreation check also runs when nothing was delivered since
// the last Reset, so a log lost twice gives two. A first follow never
// resets.
func (l *ObjectLog) Follow(ctx context.Context, obj ObjectID, fn func(Record)) error {
	defer l.forgetSnapshots(obj)
	var pos followPos
	for attempt := 0; ; attempt++ {
		delivered, err := l.followFrom(ctx, obj, &pos, fn)
		if ctx.Err() != nil {
			return nil
		}
		if l.js.Conn().IsClosed() {
			return fmt.Errorf("follow %s: %w", obj, ErrClosed)
		}
		if delivered {
			attempt = 0
		}
		switch attempt {
		case 0:
			l.logger.Debug("follow interrupted, resuming", "object", obj.String(), "next_seq", pos.next, "error", err)
		case followWarnAfter:
			l.logger.Warn("follow interrupted, still resuming", "object", obj.String(), "next_seq", pos.next, "attempts", attempt, "error", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(min(backoff(attempt), followMaxBackoff)):
		}
	}
}

// Follow tuning. A consumer's server that goes away (a NATS server lost, a
// stream moving to a new leader) is noticed after two missed heartbeats;
// Follow then starts a new consumer after the last entry it delivered,
// retrying with short requests, so it resumes soon after the stream has a
// leader again (the library's ordered consumer waits up to 10 s per
// attempt and backs off further).
const (
	followHeartbeat  = 2 * time.Second
	followAPITimeout = 3 * time.Second
	followMaxBackoff = 2 * time.Second
	followWarnAfter  = 5
)

// errFollowGap means a follow consumer skipped a message (the client
// dropped one it could not keep up with).
var errFollowGap = errors.New("follow consumer skipped a message")

// followPos is where a Follow stands.
type followPos struct {
	// next is the stream sequence to resume from; 0: the object's first
	// entry.
	next uint64
	// created is the creation time of the stream the Follow last started
	// from the first entry in, to tell a recreated stream; zero before the
	// Follow's first consumer.
	created time.Time
	// stored is when the entry at next-1 was stored, to tell it from
	// another entry at the same sequence in a stream that came back empty
	// and grew past it.
	stored time.Time
}

// followFrom delivers obj's entries from pos.next (0: from the first) with
// one consumer until it fails or ctx is done, advancing pos.next. When
// resuming it first delivers a Reset record if the log restarted (see
// restarted), and starts from the first entry. It reports whether it
// delivered anything.
func (l *ObjectLog) followFrom(ctx context.Context, obj ObjectID, pos *followPos, fn func(Record)) (bool, error) {
	stream := streamName(obj)
	delivered := false
	l.mu.Lock()
	resync := l.mu.resync[stream]
	l.mu.Unlock()
	// A handle of its own, with fresh info: the shared handle's cached
	// info is read without a lock.
	ictx, cancel := context.WithTimeout(ctx, followAPITimeout)
	s, err := l.js.Stream(ictx, stream)
	var why string
	if err == nil {
		l.noteSeq(stream, s.CachedInfo().State.LastSeq)
		if !pos.created.IsZero() {
			why, err = restarted(ictx, s, obj, *pos)
		}
	}
	cancel()
	if err != nil {
		return false, fmt.Errorf("check log: %w", err)
	}
	if why != "" {
		l.logger.Info("object log restarted while follow was away, starting again from empty",
			"object", obj.String(), "next_seq", pos.next, "reason", why)
		l.forgetSnapshots(obj)
		pos.next = 0 // the entries before the old next are gone too
		delivered = true
		fn(Record{Reset: true})
	}
	if pos.next == 0 {
		pos.created = s.CachedInfo().Created
	}
	cfg := jetstream.ConsumerConfig{
		DeliverPolicy:     jetstream.DeliverAllPolicy,
		AckPolicy:         jetstream.AckNonePolicy,
		FilterSubject:     ObjectSubject(obj),
		InactiveThreshold: 30 * time.Second,
		Replicas:          1,
		MemoryStorage:     true,
	}
	if pos.next > 0 {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, pos.next
	}
	cctx, cancel := context.WithTimeout(ctx, followAPITimeout)
	cons, err := l.js.CreateConsumer(cctx, stream, cfg)
	cancel()
	if err != nil {
		return delivered, fmt.Errorf("create consumer: %w", err)
	}
	name := cons.CachedInfo().Name
	l.mu.Lock()
	l.mu.consumers[stream][name] = time.Now()
	l.mu.Unlock()
	defer l.deleteConsumer(ctx, stream, name)
	it, err := cons.Messages(jetstream.PullHeartbeat(followHeartbeat), jetstream.WithMessagesErrOnMissingHeartbeat(true))
	if err != nil {
		return delivered, fmt.Errorf("consume: %w", err)
	}
	defer it.Stop()
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-resync:
			it.Stop()
		case <-done:
		}
	}()
	var dseq uint64 // consumer sequence of the last message
	for {
		msg, err := it.Next()
		if err != nil {
			return delivered, err
		}
		meta, err := msg.Metadata()
		if err != nil {
			return delivered, err
		}
		if meta.Sequence.Consumer != dseq+1 {
			return delivered, errFollowGap
		}
		dseq = meta.Sequence.Consumer
		snapshot := msg.Headers().Get(snapshotHeader) == "1"
		if snapshot {
			l.noteSnapshot(obj, meta.Sequence.Stream)
		}
		l.noteSeq(stream, meta.Sequence.Stream)
		pos.next = meta.Sequence.Stream + 1
		pos.stored = meta.Timestamp
		delivered = true
		fn(Record{
			Seq:      meta.Sequence.Stream,
			Snapshot: snapshot,
			Data:     msg.Data(),
			Pending:  meta.NumPending,
		})
	}
}

// Resync makes every Follow of stream's objects start a new consumer at
// once, after the last entry it delivered, checking first whether the
// object's log restarted. After a reconnect the cluster calls it for a
// stream that restarted (see resyncReason), once the streams exist
// again, so that a follow notices a restarted server in milliseconds
// rather than after missed heartbeats (meanwhile appends are acknowledged
// by the new log and the follower would not see them).
func (l *ObjectLog) Resync(stream string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if ch, ok := l.mu.resync[stream]; ok {
		close(ch)
		l.mu.resync[stream] = make(chan struct{})
	}
}

// resyncReason tells why the follows of the object stream info describes
// must check their logs now, or returns "" if they need not. The cluster
// calls it with info fetched after a reconnect: the stream was recreated
// (a memory stream lost with a standalone server, created again by this
// node or another), its last sequence went below the highest this process
// saw (a memory stream that came back empty under its old creation time,
// its server in a NATS cluster having restarted), or the oldest follow
// consumer of this process on it is gone (a restarted server forgets
// them; a follow whose consumer is lost otherwise waits for two missed
// heartbeats). It costs one request, for the consumer, and only when this
// process has one. It then remembers info's creation time and last
// sequence for the next reconnect.
func (l *ObjectLog) resyncReason(ctx context.Context, info *jetstream.StreamInfo) string {
	stream := info.Config.Name
	seen, ok := l.lastSeq[stream]
	if !ok {
		return ""
	}
	l.mu.Lock()
	created := l.mu.created[stream]
	l.mu.created[stream] = info.Created
	var oldest string
	var since time.Time
	for name, at := range l.mu.consumers[stream] {
		if oldest == "" || at.Before(since) {
			oldest, since = name, at
		}
	}
	l.mu.Unlock()
	last := seen.Swap(info.State.LastSeq)
	switch {
	case !info.Created.Equal(created):
		return fmt.Sprintf("stream recreated at %v", info.Created)
	case info.State.LastSeq < last:
		return fmt.Sprintf("last sequence %d is below %d, seen before", info.State.LastSeq, last)
	case oldest == "":
		return ""
	}
	cctx, cancel := context.WithTimeout(ctx, followAPITimeout)
	defer cancel()
	_, err := l.js.Consumer(cctx, stream, oldest)
	switch {
	case errors.Is(err, jetstream.ErrConsumerNotFound):
		return fmt.Sprintf("follow consumer %s is gone", oldest)
	case err != nil:
		// The follows' heartbeats still tell a lost consumer.
		l.logger.Debug("look up follow consumer after reconnect failed", "stream", stream, "consumer", oldest, "error", err)
	}
	return ""
}

// noteSeq records that stream has reached sequence seq.
func (l *ObjectLog) noteSeq(stream string, seq uint64) {
	v, ok := l.lastSeq[stream]
	if !ok {
		return
	}
	for cur := v.Load(); seq > cur && !v.CompareAndSwap(cur, seq); cur = v.Load() {
	}
}

// Has reports whether the entry at stream sequence seq is in obj's log now:
// it exists and is obj's. It is false if the entry was erased or never
// written, and returns an error only when it could not ask. The engine
// uses it to tell a batch folded into a snapshot (erased) from a batch
// acknowledged by a log that restarted before the follow noticed
// (present).
func (l *ObjectLog) Has(ctx context.Context, obj ObjectID, seq uint64) (bool, error) {
	s, ok := l.streams[streamName(obj)]
	if !ok {
		return false, fmt.Errorf("look up entry %d of %s: stream %s unknown", seq, obj, streamName(obj))
	}
	if seq == 0 {
		return false, nil
	}
	m, err := s.GetMsg(ctx, seq)
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("look up entry %d of %s: %w", seq, obj, err)
	}
	return m.Subject == ObjectSubject(obj), nil
}

// restarted tells why obj's log, in stream s (with fresh info), restarted
// since a Follow at pos last started a consumer, or returns "" if it did
// not: the stream is the one the Follow started in and (if the Follow
// delivered an entry, pos.next > 0) still holds the entry before pos.next
// as obj's, or that entry was erased by a snapshot, which is then the
// object's next entry.
func restarted(ctx context.Context, s jetstream.Stream, obj ObjectID, pos followPos) (string, error) {
	info := s.CachedInfo()
	switch {
	case !info.Created.Equal(pos.created):
		return fmt.Sprintf("stream recreated at %v", info.Created), nil
	case pos.next == 0:
		return "", nil
	case info.State.LastSeq < pos.next-1:
		return fmt.Sprintf("stream's last sequence %d is below the last delivered", info.State.LastSeq), nil
	}
	last, err := s.GetMsg(ctx, pos.next-1)
	switch {
	case err == nil && last.Subject == ObjectSubject(obj) && !sameTime(last.Time, pos.stored):
		return fmt.Sprintf("entry %d is not the one delivered (stored %v, not %v)", pos.next-1, last.Time, pos.stored), nil
	case err == nil && last.Subject == ObjectSubject(obj):
		return "", nil
	case err != nil && !errors.Is(err, jetstream.ErrMsgNotFound):
		return "", fmt.Errorf("get last delivered entry %d: %w", pos.next-1, err)
	}
	// Erased, or another object's: the stream came back empty under its
	// old creation time and has passed the sequence since.
	m, err := s.GetMsg(ctx, pos.next, jetstream.WithGetMsgSubject(ObjectSubject(obj)))
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
		return "entries erased, none left", nil
	case err != nil:
		return "", fmt.Errorf("get next entry from %d: %w", pos.next, err)
	case m.Header.Get(snapshotHeader) == "1":
		return "", nil // a snapshot erased what the follow missed
	}
	return fmt.Sprintf("entries erased, next entry %d is a batch", m.Sequence), nil
}

// sameTime reports whether a stored entry's time is t, allowing for the
// precision of the API's JSON; a zero t (not known) matches anything.
func sameTime(stored, t time.Time) bool {
	if t.IsZero() {
		return true
	}
	d := stored.Sub(t)
	return d > -time.Millisecond && d < time.Millisecond
}

// deleteConsumer forgets a finished follow consumer and removes its server
// side at once instead of leaving it to the inactivity threshold. After a
// failure (ctx not done) the consumer's server may be gone, so it waits
// less.
func (l *ObjectLog) deleteConsumer(ctx context.Context, stream, name string) {
	l.mu.Lock()
	delete(l.mu.consumers[stream], name)
	l.mu.Unlock()
	wait := 2 * time.Second
	if ctx.Err() == nil {
		wait = 500 * time.Millisecond
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), wait)
	defer cancel()
	if err := l.js.DeleteConsumer(ctx, stream, name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		l.logger.Debug("delete follow consumer failed", "stream", stream, "consumer", name, "error", err)
	}
}
