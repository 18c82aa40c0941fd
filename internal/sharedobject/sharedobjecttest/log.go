// Package sharedobjecttest provides an in-memory sharedobject.Log for tests:
// several Managers sharing one Log behave like nodes of a cluster sharing
// JetStream.
package sharedobjecttest

import (
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/shoal-live/shoal/internal/sharedobject"
)

// Log is an in-memory sharedobject.Log. Record data is shared, read-only,
// among followers. Sequence numbers are global and never reused, also
// across Drop, until Lose. The zero Log is not usable; call NewLog.
type Log struct {
	rollup    bool
	mu        sync.Mutex
	seq       uint64
	epoch     uint64 // incremented by Lose
	streams   map[sharedobject.ObjectID]*stream
	appendErr error
	appends   int
	snapshots int
}

// stream is one object's records: the latest snapshot and what follows.
type stream struct {
	snap    *sharedobject.Record
	recs    []sharedobject.Record
	dropped bool          // snap is a tombstone and nothing follows it
	wake    chan struct{} // closed and replaced when records are added or the stream is dropped
}

var _ sharedobject.Log = (*Log)(nil)

// NewLog returns an empty Log. Its snapshot records carry the Seq of the
// last record they cover, and followers that are current never see them.
func NewLog() *Log {
	return &Log{streams: make(map[sharedobject.ObjectID]*stream)}
}

// NewRollupLog returns an empty Log that stores a snapshot as a new record,
// with its own Seq, replacing the records before it, as a JetStream roll-up
// does: every follower gets it.
func NewRollupLog() *Log {
	l := NewLog()
	l.rollup = true
	return l
}

func (l *Log) stream(obj sharedobject.ObjectID) *stream {
	s := l.streams[obj]
	if s == nil {
		s = &stream{wake: make(chan struct{})}
		l.streams[obj] = s
	}
	return s
}

func (s *stream) wakeUp() {
	close(s.wake)
	s.wake = make(chan struct{})
}

// Append implements sharedobject.Log.
func (l *Log) Append(ctx context.Context, obj sharedobject.ObjectID, data []byte) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.appendErr != nil {
		return 0, l.appendErr
	}
	l.seq++
	l.appends++
	s := l.stream(obj)
	s.dropped = false
	s.recs = append(s.recs, sharedobject.Record{Seq: l.seq, Data: slices.Clone(data)})
	s.wakeUp()
	return l.seq, nil
}

// AppendAsync implements sharedobject.Log: it appends at once and calls
// done before it returns. A failure set with FailAppends goes to done.
func (l *Log) AppendAsync(ctx context.Context, obj sharedobject.ObjectID, data []byte, done func(uint64, error)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	done(l.Append(ctx, obj, data))
	return nil
}

// Follow implements sharedobject.Log. It returns ctx.Err() when ctx is
// done. After Lose, it delivers a Reset record.
func (l *Log) Follow(ctx context.Context, obj sharedobject.ObjectID, fn func(sharedobject.Record)) error {
	var last uint64
	var batch []sharedobject.Record
	l.mu.Lock()
	epoch := l.epoch
	l.mu.Unlock()
	for {
		l.mu.Lock()
		batch = batch[:0]
		if l.epoch != epoch {
			epoch, last = l.epoch, 0
			batch = append(batch, sharedobject.Record{Reset: true})
		}
		s := l.stream(obj)
		after := last
		if s.snap != nil && s.snap.Seq > last {
			batch = append(batch, *s.snap)
			after = s.snap.Seq
		}
		i, _ := slices.BinarySearchFunc(s.recs, after+1, func(r sharedobject.Record, seq uint64) int {
			return compare(r.Seq, seq)
		})
		batch = append(batch, s.recs[i:]...)
		wake := s.wake
		l.mu.Unlock()

		for _, r := range batch {
			if err := ctx.Err(); err != nil {
				return err
			}
			fn(r)
			if !r.Reset {
				last = r.Seq
			}
		}
		if len(batch) > 0 {
			continue
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wake:
		}
	}
}

func compare(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Snapshot implements sharedobject.Log.
func (l *Log) Snapshot(ctx context.Context, obj sharedobject.ObjectID, lastSeq uint64, state []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.streams[obj]
	if s == nil || lastSeq == 0 || lastSeq != s.lastSeq() {
		return sharedobject.ErrSnapshotStale
	}
	seq := lastSeq
	if l.rollup {
		l.seq++
		seq = l.seq
	}
	s.snap = &sharedobject.Record{Seq: seq, Snapshot: true, Data: slices.Clone(state)}
	s.recs = nil
	l.snapshots++
	if l.rollup {
		s.wakeUp()
	}
	return nil
}

func (s *stream) lastSeq() uint64 {
	if len(s.recs) > 0 {
		return s.recs[len(s.recs)-1].Seq
	}
	if s.snap != nil {
		return s.snap.Seq
	}
	return 0
}

// Drop implements sharedobject.Log: the tombstone becomes the object's
// snapshot, with a new Seq, and replaces every record.
func (l *Log) Drop(ctx context.Context, obj sharedobject.ObjectID, lastSeq uint64, tombstone []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.streams[obj]
	if s == nil || lastSeq != s.lastSeq() {
		return sharedobject.ErrSnapshotStale
	}
	l.seq++
	s.snap = &sharedobject.Record{Seq: l.seq, Snapshot: true, Data: slices.Clone(tombstone)}
	s.recs = nil
	s.dropped = true
	s.wakeUp()
	return nil
}

// Lose loses every object's records and starts sequence numbers again,
// as when the memory storage of a log is lost: followers get a Reset.
func (l *Log) Lose() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.epoch++
	l.seq = 0
	old := l.streams
	l.streams = make(map[sharedobject.ObjectID]*stream)
	for _, s := range old {
		s.wakeUp()
	}
}

// Has implements sharedobject.Log.
func (l *Log) Has(ctx context.Context, obj sharedobject.ObjectID, seq uint64) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.streams[obj]
	if s == nil {
		return false, nil
	}
	_, found := slices.BinarySearchFunc(s.recs, seq, func(r sharedobject.Record, seq uint64) int {
		return compare(r.Seq, seq)
	})
	return found, nil
}

// Last returns the Seq of obj's last record, 0 if it has none.
func (l *Log) Last(obj sharedobject.ObjectID) uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s := l.streams[obj]; s != nil {
		return s.lastSeq()
	}
	return 0
}

// Exists reports whether obj has records or a snapshot, other than the
// tombstone of a Drop.
func (l *Log) Exists(obj sharedobject.ObjectID) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.streams[obj]
	return s != nil && !s.dropped && (s.snap != nil || len(s.recs) > 0)
}

// Records returns how many records of obj follow its snapshot, and whether
// it has one.
func (l *Log) Records(obj sharedobject.ObjectID) (n int, snapshot bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.streams[obj]
	if s == nil {
		return 0, false
	}
	return len(s.recs), s.snap != nil
}

// Stats returns how many appends and snapshots succeeded.
func (l *Log) Stats() (appends, snapshots int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.appends, l.snapshots
}

// FailAppends makes Append fail with err until called with nil.
func (l *Log) FailAppends(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.appendErr = err
}

// ErrInjected is an error for FailAppends.
var ErrInjected = errors.New("injected failure")
