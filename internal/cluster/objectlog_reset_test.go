package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/shoal-live/shoal/internal/cluster"
	"github.com/shoal-live/shoal/internal/cluster/clustertest"
)

// describe is recordsOf, with Reset records as "reset" (and their Seq and
// Data, which must be empty).
func describe(rs []cluster.Record) []string {
	out := recordsOf(rs)
	for i, r := range rs {
		if r.Reset {
			out[i] = fmt.Sprintf("reset seq=%d data=%q", r.Seq, r.Data)
		}
	}
	return out
}

const reset = `reset seq=0 data=""`

// followGated is follow, except that the callback, having recorded the
// record with Seq gate, holds the Follow until release is called: the
// Follow is then away from its consumer while the test changes the log.
// blocked is closed when the gate is reached.
func followGated(t *testing.T, log *cluster.ObjectLog, obj cluster.ObjectID, gate uint64) (f *follower, blocked <-chan struct{}, release func()) {
	t.Helper()
	f = &follower{}
	reached, released := make(chan struct{}), make(chan struct{})
	var gateOnce sync.Once
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		err := log.Follow(ctx, obj, func(r cluster.Record) {
			f.mu.Lock()
			f.records = append(f.records, r)
			f.mu.Unlock()
			if r.Seq == gate && !r.Reset {
				gateOnce.Do(func() {
					close(reached)
					<-released
				})
			}
		})
		f.mu.Lock()
		f.err = err
		f.mu.Unlock()
	}()
	var stopOnce, releaseOnce sync.Once
	f.stop = func() { stopOnce.Do(func() { cancel(); <-done }) }
	release = func() { releaseOnce.Do(func() { close(released) }) }
	t.Cleanup(f.stop)
	t.Cleanup(release) // runs first
	return f, reached, release
}

// waitClosed fails the test unless ch is closed within 10 s.
func waitClosed(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: not after 10s", what)
	}
}

// deleteConsumers deletes the consumers of stream, failing the test unless
// there was exactly one (the follower's): its Follow must then resume.
func deleteConsumers(t *testing.T, n *node, stream string) {
	t.Helper()
	ctx := t.Context()
	s, err := n.JetStream().Stream(ctx, stream)
	if err != nil {
		t.Fatalf("Stream(%s): %v", stream, err)
	}
	names := s.ConsumerNames(ctx)
	var deleted int
	for name := range names.Name() {
		if err := n.JetStream().DeleteConsumer(ctx, stream, name); err != nil {
			t.Fatalf("DeleteConsumer(%s): %v", name, err)
		}
		deleted++
	}
	if err := names.Err(); err != nil {
		t.Fatalf("list consumers of %s: %v", stream, err)
	}
	if deleted != 1 {
		t.Fatalf("deleted %d consumers of %s, want 1 (the follower's)", deleted, stream)
	}
}

func appendData(t *testing.T, log *cluster.ObjectLog, obj cluster.ObjectID, data ...string) []string {
	t.Helper()
	out := make([]string, len(data))
	for i, d := range data {
		seq, err := log.Append(t.Context(), obj, []byte(d))
		if err != nil {
			t.Fatalf("Append(%s, %q): %v", obj, d, err)
		}
		out[i] = fmt.Sprintf("%d batch %s", seq, d)
	}
	return out
}

func snapshotOf(t *testing.T, log *cluster.ObjectLog, obj cluster.ObjectID, lastSeq uint64, state string) string {
	t.Helper()
	if err := log.Snapshot(t.Context(), obj, lastSeq, []byte(state)); err != nil {
		t.Fatalf("Snapshot(%s, %d): %v", obj, lastSeq, err)
	}
	return fmt.Sprintf("%d snap %s", headOf(t, log, obj), state)
}

func headOf(t *testing.T, log *cluster.ObjectLog, obj cluster.ObjectID) uint64 {
	t.Helper()
	seq, err := log.Head(t.Context(), obj)
	if err != nil {
		t.Fatalf("Head(%s): %v", obj, err)
	}
	return seq
}

// waitDescribed waits until f has len(want) records and compares them with
// want.
func waitDescribed(t *testing.T, f *follower, want []string, what string) {
	t.Helper()
	var got []cluster.Record
	checkFor(t, 20*time.Second, 10*time.Millisecond, func() error {
		var err error
		if got, err = f.snapshot(); err != nil {
			return fmt.Errorf("follow: %w", err)
		}
		if len(got) < len(want) {
			return fmt.Errorf("have %d records %q, want %q", len(got), describe(got), want)
		}
		return nil
	})
	if diff := cmp.Diff(want, describe(got)); diff != "" {
		t.Errorf("%s: records mismatch (-want +got):\n%s", what, diff)
	}
}

// A transient object's stream lost with its only server and recreated by
// the node: its follower gets a Reset record and the new log from seq 1,
// not a resume after a sequence the new stream reuses. The follower is
// held until the new stream has passed the sequence it would resume from,
// so only the stream's creation time tells.
func TestFollowResetsWhenStreamRecreated(t *testing.T) {
	checkNoLeaks(t)
	dir := t.TempDir()
	srv := clustertest.StartServer(t, dir)
	n := startNode(t, cluster.Config{URL: srv.ClientURL(), Name: "node-a"})
	log := n.ObjectLog()
	before := appendData(t, log, ball, "a", "b", "c")
	f, blocked, release := followGated(t, log, ball, headOf(t, log, ball))
	waitClosed(t, blocked, "follower at the last entry")

	port := srv.Addr().(*net.TCPAddr).Port
	srv.Shutdown()
	srv.WaitForShutdown()
	clustertest.StartServerOn(t, dir, port)

	// Wait for the node to recreate the stream, then append once (a
	// retried append could store twice).
	checkFor(t, 20*time.Second, 100*time.Millisecond, func() error {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		_, err := n.JetStream().Stream(ctx, cluster.TransientStream)
		return err
	})
	first, err := log.Append(t.Context(), ball, []byte("x"))
	if err != nil {
		t.Fatalf("Append after restart: %v", err)
	}
	if first != 1 {
		t.Fatalf("first append after restart at seq %d, want 1 (a new memory stream)", first)
	}
	after := appendData(t, log, ball, "y", "z", "w")
	release()
	want := slices.Concat(before, []string{reset, "1 batch x"}, after)
	waitDescribed(t, f, want, "across stream recreation")
}

// A follower away while its object's entries are erased with no snapshot
// after them (Purge, as by the janitor) gets a Reset record before the
// entries of the object's new life, whether they come before it resumes
// or later.
func TestFollowResetsWhenEntriesErasedWithoutSnapshot(t *testing.T) {
	for _, tc := range []struct {
		name        string
		beforeAgain bool // append the new entry before the follower resumes
	}{
		{name: "batch after erase", beforeAgain: true},
		{name: "nothing after erase", beforeAgain: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkNoLeaks(t)
			n := startNode(t, embedded(t))
			log := n.ObjectLog()
			old := appendData(t, log, ball, "a", "b", "c")
			f, blocked, release := followGated(t, log, ball, headOf(t, log, ball))
			waitClosed(t, blocked, "follower at the last entry")

			deleteConsumers(t, n, cluster.TransientStream)
			if err := log.Purge(t.Context(), ball, 0); err != nil {
				t.Fatalf("Purge: %v", err)
			}
			want := slices.Concat(old, []string{reset})
			if tc.beforeAgain {
				want = append(want, appendData(t, log, ball, "again")...)
				release()
			} else {
				release()
				waitDescribed(t, f, want, "after erase")
				want = append(want, appendData(t, log, ball, "again")...)
			}
			waitDescribed(t, f, want, "new life")
		})
	}
}

// A follower away while snapshots erase the entries it had and some it
// missed catches up from the oldest kept snapshot, with no Reset.
func TestFollowBehindSnapshotEraseDoesNotReset(t *testing.T) {
	checkNoLeaks(t)
	n := startNode(t, embedded(t))
	log := n.ObjectLog()
	old := appendData(t, log, ball, "a", "b", "c")
	away, blocked, release := followGated(t, log, ball, headOf(t, log, ball))
	waitClosed(t, blocked, "follower at the last entry")
	deleteConsumers(t, n, cluster.TransientStream)

	missed := appendData(t, log, ball, "d")
	// A live follower in the same process lets Snapshot erase before the
	// snapshots it delivered.
	live := follow(t, log, ball)
	s1 := snapshotOf(t, log, ball, headOf(t, log, ball), "S(abcd)")
	waitDescribed(t, live, slices.Concat(old, missed, []string{s1}), "live follower")
	e := appendData(t, log, ball, "e")
	s2 := snapshotOf(t, log, ball, headOf(t, log, ball), "S(abcde)")
	// The entries up to d are gone: a new follower starts at S(abcd).
	waitDescribed(t, follow(t, log, ball), slices.Concat([]string{s1}, e, []string{s2}), "new follower")

	release()
	waitDescribed(t, away, slices.Concat(old, []string{s1}, e, []string{s2}), "follower that was away")
}

// Drop is guarded like Snapshot and leaves its tombstone as the object's
// only entry, which followers get as a snapshot: live ones, ones that were
// away (no Reset) and new ones.
func TestDropIsGuardedAndLeavesTombstone(t *testing.T) {
	checkNoLeaks(t)
	n := startNode(t, cluster.Config{Name: "node-a", MaxMsgSize: 100, Embedded: cluster.EmbeddedConfig{StoreDir: t.TempDir()}})
	log := n.ObjectLog()
	ctx := t.Context()
	old := appendData(t, log, ball, "a", "b")
	read := headOf(t, log, ball) // a node checks the object is unused...
	away, blocked, release := followGated(t, log, ball, read)
	waitClosed(t, blocked, "follower at the last entry")
	deleteConsumers(t, n, cluster.TransientStream)
	live := follow(t, log, ball)
	used := appendData(t, log, ball, "use") // ...while another node uses it
	waitDescribed(t, live, slices.Concat(old, used), "live follower")

	for _, lastSeq := range []uint64{read, 0, headOf(t, log, ball) + 1} {
		if err := log.Drop(ctx, ball, lastSeq, []byte("tomb")); !errors.Is(err, cluster.ErrSnapshotStale) {
			t.Errorf("Drop(lastSeq %d) = %v, want ErrSnapshotStale", lastSeq, err)
		}
	}
	if err := log.Drop(ctx, ball, headOf(t, log, ball), make([]byte, 101)); !errors.Is(err, cluster.ErrTooLarge) {
		t.Errorf("Drop(101 bytes) = %v, want ErrTooLarge", err)
	}
	all := slices.Concat(old, used)
	waitDescribed(t, follow(t, log, ball), all, "new follower after refused drops")

	if err := log.Drop(ctx, ball, headOf(t, log, ball), []byte("tomb")); err != nil {
		t.Fatalf("Drop(head): %v", err)
	}
	tomb := fmt.Sprintf("%d snap tomb", headOf(t, log, ball))
	waitDescribed(t, follow(t, log, ball), []string{tomb}, "new follower after drop")
	waitDescribed(t, live, slices.Concat(all, []string{tomb}), "live follower after drop")
	release()
	waitDescribed(t, away, slices.Concat(old, []string{tomb}), "follower that was away")
}

// Purge erases an object's entries up to a sequence and keeps later ones
// and other objects'.
func TestPurgeKeepsLaterEntries(t *testing.T) {
	checkNoLeaks(t)
	n := startNode(t, embedded(t))
	log := n.ObjectLog()
	ctx := t.Context()
	other := appendData(t, log, otherObj, "o")
	ab := appendData(t, log, ball, "a", "b")
	upTo := headOf(t, log, ball)
	later := appendData(t, log, ball, "c", "d")
	if err := log.Purge(ctx, ball, upTo); err != nil {
		t.Fatalf("Purge(%d): %v", upTo, err)
	}
	waitDescribed(t, follow(t, log, ball), later, fmt.Sprintf("after Purge(%d) of %q", upTo, ab))
	if err := log.Purge(ctx, ball, 0); err != nil {
		t.Fatalf("Purge(0): %v", err)
	}
	if seq := headOf(t, log, ball); seq != 0 {
		t.Errorf("Head after Purge(0) = %d, want 0", seq)
	}
	waitDescribed(t, follow(t, log, otherObj), other, "other object")
}

// A sweep erases an orphan only up to the newest entry it examined, so a
// batch appended during the sweep survives; a dropped object's lone
// tombstone is erased like any orphan.
func TestJanitorSweepKeepsAppendDuringSweep(t *testing.T) {
	checkNoLeaks(t)
	url := clustertest.StartNATS(t)
	const ttl = time.Second
	a := startNode(t, cluster.Config{URL: url, Name: "node-a", PresenceTTL: ttl})
	log := a.ObjectLog()
	ctx := t.Context()
	used := cluster.ObjectID{Scope: "live/room1", Name: "used"}
	dropped := cluster.ObjectID{Scope: "live/room1", Name: "dropped"}
	appendData(t, log, used, "old")
	appendData(t, log, dropped, "old")
	if err := log.Drop(ctx, dropped, headOf(t, log, dropped), []byte("tomb")); err != nil {
		t.Fatalf("Drop: %v", err)
	}
	checkFor(t, 5*ttl, 100*time.Millisecond, func() error {
		got, err := log.Orphans(ctx, ttl, a.Presence())
		if err != nil {
			return err
		}
		if diff := cmp.Diff([]cluster.ObjectID{dropped, used}, got); diff != "" {
			return fmt.Errorf("orphans (-want +got):\n%s", diff)
		}
		return nil
	})

	// Loaded runs after the sweep listed the orphans and before it erases
	// them: a node using one appends there.
	var during []string
	j := cluster.NewJanitor(a.Cluster, cluster.JanitorConfig{Loaded: func() []cluster.ObjectID {
		if during == nil {
			during = appendData(t, log, used, "use")
		}
		return nil
	}}, testLogger(t))
	got, err := j.Sweep(ctx)
	if err != nil {
		t.Fatalf("Sweep: %v", err)
	}
	if diff := cmp.Diff([]cluster.ObjectID{dropped, used}, got); diff != "" {
		t.Errorf("Sweep dropped (-want +got):\n%s", diff)
	}
	if seq := headOf(t, log, dropped); seq != 0 {
		t.Errorf("Head(%s) = %d after sweep, want 0 (tombstone erased)", dropped, seq)
	}
	waitDescribed(t, follow(t, log, used), during, "object used during the sweep")
}
