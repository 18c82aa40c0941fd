// Package jetlog adapts the cluster's JetStream object log and presence
// bucket (package cluster) to the Log and Presence that package
// sharedobject consumes, so that neither package imports the other.
package jetlog

import (
	"context"
	"errors"
	"fmt"

	"github.com/shoal-live/shoal/internal/cluster"
	"github.com/shoal-live/shoal/internal/sharedobject"
)

// Log adapts the cluster's JetStream object log to sharedobject.Log.
type Log struct{ l *cluster.ObjectLog }

// NewLog returns l as a sharedobject.Log.
func NewLog(l *cluster.ObjectLog) Log { return Log{l: l} }

var (
	_ sharedobject.Log      = Log{}
	_ sharedobject.Presence = Presence{}
)

func clusterID(id sharedobject.ObjectID) cluster.ObjectID {
	return cluster.ObjectID{Scope: id.Scope, Name: id.Name, Persistent: id.Persistent}
}

// Append implements sharedobject.Log.
func (s Log) Append(ctx context.Context, obj sharedobject.ObjectID, data []byte) (uint64, error) {
	seq, err := s.l.Append(ctx, clusterID(obj), data)
	return seq, mapErr(err)
}

// mapErr marks the cluster's errors that the engine acts on.
func mapErr(err error) error {
	if errors.Is(err, cluster.ErrTooLarge) {
		return fmt.Errorf("%w: %w", sharedobject.ErrTooLarge, err)
	}
	return err
}

// Has implements sharedobject.Log.
func (s Log) Has(ctx context.Context, obj sharedobject.ObjectID, seq uint64) (bool, error) {
	return s.l.Has(ctx, clusterID(obj), seq)
}

// AppendAsync implements sharedobject.Log.
func (s Log) AppendAsync(ctx context.Context, obj sharedobject.ObjectID, data []byte, done func(uint64, error)) error {
	return mapErr(s.l.AppendAsync(ctx, clusterID(obj), data, done))
}

// Follow implements sharedobject.Log.
func (s Log) Follow(ctx context.Context, obj sharedobject.ObjectID, fn func(sharedobject.Record)) error {
	return s.l.Follow(ctx, clusterID(obj), func(r cluster.Record) {
		fn(sharedobject.Record{Seq: r.Seq, Snapshot: r.Snapshot, Data: r.Data, Reset: r.Reset})
	})
}

// Snapshot implements sharedobject.Log.
func (s Log) Snapshot(ctx context.Context, obj sharedobject.ObjectID, lastSeq uint64, state []byte) error {
	err := s.l.Snapshot(ctx, clusterID(obj), lastSeq, state)
	if errors.Is(err, cluster.ErrSnapshotStale) {
		return sharedobject.ErrSnapshotStale
	}
	return mapErr(err)
}

// Drop implements sharedobject.Log.
func (s Log) Drop(ctx context.Context, obj sharedobject.ObjectID, lastSeq uint64, tombstone []byte) error {
	err := s.l.Drop(ctx, clusterID(obj), lastSeq, tombstone)
	if errors.Is(err, cluster.ErrSnapshotStale) {
		return sharedobject.ErrSnapshotStale
	}
	return mapErr(err)
}

// Presence adapts the cluster's presence bucket to sharedobject.Presence.
type Presence struct{ p *cluster.Presence }

// NewPresence returns p as a sharedobject.Presence.
func NewPresence(p *cluster.Presence) Presence { return Presence{p: p} }

// Join implements sharedobject.Presence.
func (s Presence) Join(ctx context.Context, obj sharedobject.ObjectID, nodeID string) error {
	return s.p.Join(ctx, clusterID(obj), nodeID)
}

// Leave implements sharedobject.Presence.
func (s Presence) Leave(ctx context.Context, obj sharedobject.ObjectID, nodeID string) error {
	return s.p.Leave(ctx, clusterID(obj), nodeID)
}

// Anyone implements sharedobject.Presence.
func (s Presence) Anyone(ctx context.Context, obj sharedobject.ObjectID) (bool, error) {
	return s.p.Anyone(ctx, clusterID(obj))
}
