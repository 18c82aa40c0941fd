package console

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/shoal-live/shoal/internal/cluster"
	"github.com/shoal-live/shoal/internal/cluster/clustertest"
	"github.com/shoal-live/shoal/internal/sharedobject"
)

// connectJS connects to the NATS server at url for the test's length.
func connectJS(t *testing.T, url string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatalf("connect to %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// seqRecord is one raw message of a shared-object stream.
type seqRecord struct {
	seq  uint64
	data []byte
}

// subjectRecords returns the messages of subject in stream, in order.
func subjectRecords(t *testing.T, js jetstream.JetStream, stream, subject string) []seqRecord {
	t.Helper()
	ctx := t.Context()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatalf("Stream(%s): %v", stream, err)
	}
	var out []seqRecord
	for seq := s.CachedInfo().State.FirstSeq; seq <= s.CachedInfo().State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			t.Fatalf("GetMsg(%s, %d): %v", stream, seq, err)
		}
		if m.Subject == subject {
			out = append(out, seqRecord{seq: seq, data: m.Data})
		}
	}
	return out
}

// inspect replays data as the records at sequences 1, 2...
func inspect(data [][]byte) *sharedobject.Inspector {
	in := &sharedobject.Inspector{}
	for i, d := range data {
		_ = in.Apply(uint64(i+1), d) // a bad record counts as a version; the console counts it too
	}
	return in
}

// createSOStreams creates the shared-object streams as the nodes do, as
// far as the console cares: transient objects in memory.
func createSOStreams(t *testing.T, js jetstream.JetStream, persistent bool) {
	t.Helper()
	cfgs := []jetstream.StreamConfig{{Name: cluster.TransientStream, Subjects: []string{"so.t.>"}, Storage: jetstream.MemoryStorage}}
	if persistent {
		cfgs = append(cfgs, jetstream.StreamConfig{Name: cluster.PersistentStream, Subjects: []string{"so.p.>"}, Storage: jetstream.FileStorage})
	}
	for _, cfg := range cfgs {
		if _, err := js.CreateStream(t.Context(), cfg); err != nil {
			t.Fatalf("create stream %s: %v", cfg.Name, err)
		}
	}
}

func publishAll(t *testing.T, js jetstream.JetStream, subject string, data [][]byte) {
	t.Helper()
	for _, d := range data {
		if _, err := js.Publish(t.Context(), subject, d); err != nil {
			t.Fatalf("publish on %s: %v", subject, err)
		}
	}
}

// TestConsoleSharedObjectsStreamRestart restarts SO_TRANSIENT under the
// console, as a restart of the only NATS server does to a memory stream,
// or as deleting and creating it again does: the console reads the new
// stream, whose sequences start again from 1, from its start and shows
// the objects' new state, not the old.
func TestConsoleSharedObjectsStreamRestart(t *testing.T) {
	// A node writes the records, on a server of its own; the test copies
	// them to the console's server, where no node changes anything.
	src := clustertest.StartNATS(t)
	node := startSONode(t, src, "node-a")
	ctx := t.Context()
	srcJS := connectJS(t, src)
	ball := node.m.Object(sharedobject.ObjectID{Scope: "SOSample", Name: "BallControl"})
	if err := ball.Hold(ctx); err != nil {
		t.Fatal(err)
	}
	defer ball.Release()
	chat := node.m.Object(sharedobject.ObjectID{Scope: "live/room1", Name: "chat", Persistent: true})
	if err := chat.Hold(ctx); err != nil {
		t.Fatal(err)
	}
	defer chat.Release()
	if err := chat.Set(ctx, "topic", "hello"); err != nil {
		t.Fatal(err)
	}
	// written returns the records of key after seq once they hold the
	// version of the node's replica h.
	written := func(stream, key string, h *sharedobject.Handle, after uint64) (recs []seqRecord, last uint64) {
		t.Helper()
		checkFor(t, 10*time.Second, 20*time.Millisecond, func() error {
			all := subjectRecords(t, srcJS, stream, key)
			var data [][]byte
			for _, r := range all {
				data = append(data, r.data)
			}
			if v := inspect(data).Version(); v != h.Version() {
				return fmt.Errorf("%s: the records hold version %d, the node %d", key, v, h.Version())
			}
			recs, last = nil, all[len(all)-1].seq
			for _, r := range all {
				if r.seq > after {
					recs = append(recs, r)
				}
			}
			return nil
		})
		return recs, last
	}
	dataOf := func(rs []seqRecord) [][]byte {
		out := make([][]byte, len(rs))
		for i, r := range rs {
			out[i] = r.data
		}
		return out
	}
	for i := 1; i <= 30; i++ {
		if err := ball.Set(ctx, "n", float64(i)); err != nil {
			t.Fatal(err)
		}
	}
	oldRecs, last := written(cluster.TransientStream, ballKey, ball, 0)
	chatRecs, _ := written(cluster.PersistentStream, chatKey, chat, 0)
	for i := 31; i <= 33; i++ {
		if err := ball.Set(ctx, "n", float64(i)); err != nil {
			t.Fatal(err)
		}
	}
	// What the node writes next in its restored log: written after the
	// old records, they hold the new state.
	newRecs, _ := written(cluster.TransientStream, ballKey, ball, last)
	oldData, newData := dataOf(oldRecs), dataOf(newRecs)
	oldIn, newIn := inspect(oldData), inspect(newData)
	if oldIn.Version() == newIn.Version() {
		t.Fatalf("old and new records both hold version %d", oldIn.Version())
	}
	want := newIn.Attributes()
	if len(want) != 1 || want[0].Value != float64(33) {
		t.Fatalf("new records hold %+v, want n = 33", want)
	}
	wantType, wantValue := describe(want[0].Value)

	for _, how := range []string{"server restart", "stream recreated"} {
		t.Run(how, func(t *testing.T) {
			dir := t.TempDir()
			srv := clustertest.StartServer(t, dir)
			url := srv.ClientURL()
			js := connectJS(t, url)
			createSOStreams(t, js, true)
			// Messages of another object, purged, put the ball's old records
			// at sequences above every new one.
			publishAll(t, js, "so.t.SOSample.filler", oldData)
			publishAll(t, js, "so.t.SOSample.filler", newData)
			ts, err := js.Stream(ctx, cluster.TransientStream)
			if err != nil {
				t.Fatal(err)
			}
			if err := ts.Purge(ctx, jetstream.WithPurgeSubject("so.t.SOSample.filler")); err != nil {
				t.Fatal(err)
			}
			publishAll(t, js, ballKey, oldData)
			publishAll(t, js, chatKey, dataOf(chatRecs))

			e := newEnv(t, url)
			oldSeq := uint64(2*len(oldData) + len(newData))
			snapshotWhere(t, e, func(s snapshotJSON) error {
				o, ok := findObject(s, ballKey)
				if !ok || o.Version != oldIn.Version() || o.Seq != oldSeq {
					return fmt.Errorf("ball = %+v, want version %d at seq %d", o, oldIn.Version(), oldSeq)
				}
				if _, ok := findObject(s, chatKey); !ok {
					return fmt.Errorf("chat not listed")
				}
				return nil
			})

			switch how {
			case "server restart":
				// The memory stream is lost with the server; the file
				// stream stays.
				port := srv.Addr().(*net.TCPAddr).Port
				srv.Shutdown()
				srv.WaitForShutdown()
				clustertest.StartServerOn(t, dir, port)
				checkFor(t, 10*time.Second, 20*time.Millisecond, func() error {
					_, err := js.Stream(ctx, cluster.PersistentStream)
					return err
				})
				if _, err := js.Stream(ctx, cluster.TransientStream); !errors.Is(err, jetstream.ErrStreamNotFound) {
					t.Fatalf("%s after the restart: %v, want it lost", cluster.TransientStream, err)
				}
				createSOStreams(t, js, false)
			case "stream recreated":
				if err := js.DeleteStream(ctx, cluster.TransientStream); err != nil {
					t.Fatal(err)
				}
				createSOStreams(t, js, false)
			}
			publishAll(t, js, ballKey, newData)

			snapshotWhere(t, e, func(s snapshotJSON) error {
				o, ok := findObject(s, ballKey)
				if !ok || o.Version != newIn.Version() || o.Seq != uint64(len(newData)) {
					return fmt.Errorf("ball = %+v, want version %d at seq %d (the old version was %d)",
						o, newIn.Version(), len(newData), oldIn.Version())
				}
				if c, ok := findObject(s, chatKey); !ok || !c.Persistent {
					return fmt.Errorf("chat = %+v, %v, want it listed", c, ok)
				}
				return nil
			})
			var d objectDetailJSON
			if st := e.call(t, "GET", "/console/api/object?key="+ballKey, testToken, nil, &d); st != http.StatusOK {
				t.Fatalf("object status %d", st)
			}
			if len(d.Attributes) != 1 || d.Attributes[0].Key != "n" || d.Attributes[0].Type != wantType || d.Attributes[0].Value != wantValue {
				t.Errorf("ball attributes = %+v, want n = %s %s", d.Attributes, wantType, wantValue)
			}
		})
	}
}

// TestSOWatcherRestartCheck checks the decision on its own, in particular
// a stream whose sequences went back without its Created changing.
func TestSOWatcherRestartCheck(t *testing.T) {
	created := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	ball := soKey{scope: "SOSample", name: "BallControl"}
	chat := soKey{scope: "live/room1", name: "chat", persistent: true}
	setup := func() (*soWatcher, *soPosition, soMark) {
		w := newSOWatcher("nats://unused", 10, testLogger())
		for _, k := range []soKey{ball, chat} {
			w.mu.objects[k] = &soObject{key: k, hist: newRing(10)}
		}
		p := w.mu.pos[cluster.TransientStream]
		p.created, p.next, p.epoch = created, 41, 2
		return w, p, soMark{epoch: 2, next: 41}
	}
	for _, tc := range []struct {
		name    string
		mark    func(soMark) soMark
		created time.Time
		lastSeq uint64
		reread  bool
	}{
		{name: "same stream", created: created, lastSeq: 40},
		{name: "same stream, more messages", created: created, lastSeq: 90},
		{name: "created anew", created: created.Add(time.Second), lastSeq: 90, reread: true},
		{name: "sequences went back", created: created, lastSeq: 39, reread: true},
		{name: "read again already", mark: func(m soMark) soMark { m.epoch--; return m }, created: created.Add(time.Second), lastSeq: 3},
		{name: "nothing read", mark: func(m soMark) soMark { m.next = 0; return m }, created: created.Add(time.Second), lastSeq: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, p, mark := setup()
			stopped := false
			p.stop = func() { stopped = true }
			if tc.mark != nil {
				mark = tc.mark(mark)
			}
			w.mu.Lock()
			w.checkRestartLocked(cluster.TransientStream, mark, tc.created, tc.lastSeq)
			w.mu.Unlock()
			_, hasBall := w.mu.objects[ball]
			_, hasChat := w.mu.objects[chat]
			woken := len(p.wake) == 1
			if !tc.reread {
				if !hasBall || !hasChat || p.next != 41 || p.epoch != 2 || stopped || woken {
					t.Errorf("ball %v, chat %v, next %d, epoch %d, stopped %v, woken %v; want nothing changed", hasBall, hasChat, p.next, p.epoch, stopped, woken)
				}
				return
			}
			if hasBall || !hasChat || p.next != 0 || !p.created.IsZero() || p.epoch != 3 || !stopped || !woken {
				t.Errorf("ball %v, chat %v, next %d, created %v, epoch %d, stopped %v, woken %v; want the transient stream read again from its start",
					hasBall, hasChat, p.next, p.created, p.epoch, stopped, woken)
			}
		})
	}
}
