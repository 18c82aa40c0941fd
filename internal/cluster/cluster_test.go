package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/shoal-live/shoal/internal/cluster"
	"github.com/shoal-live/shoal/internal/cluster/clustertest"
)

func embedded(t testing.TB) cluster.Config {
	return cluster.Config{Name: "node-a", Embedded: cluster.EmbeddedConfig{StoreDir: t.TempDir()}}
}

var (
	ball     = cluster.ObjectID{Scope: "live/room1", Name: "ball"}
	ballP    = cluster.ObjectID{Scope: "live/room1", Name: "ball", Persistent: true}
	otherObj = cluster.ObjectID{Scope: "live/room1", Name: "other"}
)

// recordsOf returns (seq, snapshot, data) triples, for comparisons.
func recordsOf(rs []cluster.Record) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		kind := "batch"
		if r.Snapshot {
			kind = "snap"
		}
		out[i] = fmt.Sprintf("%d %s %s", r.Seq, kind, r.Data)
	}
	return out
}

func TestNew_Validate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     cluster.Config
		wantErr string
	}{
		{name: "embedded ok", cfg: cluster.Config{Embedded: cluster.EmbeddedConfig{StoreDir: "/tmp/x"}}},
		{name: "external ok", cfg: cluster.Config{URL: "nats://a:4222,nats://b:4222", Replicas: 3}},
		{name: "embedded needs store dir", cfg: cluster.Config{}, wantErr: "store_dir"},
		{name: "both", cfg: cluster.Config{URL: "nats://a:4222", Embedded: cluster.EmbeddedConfig{StoreDir: "/x"}}, wantErr: "url and embedded"},
		{name: "replicas", cfg: cluster.Config{URL: "nats://a", Replicas: 7}, wantErr: "replicas"},
		{name: "max msg size", cfg: cluster.Config{URL: "nats://a", MaxMsgSize: 1 << 30}, wantErr: "max_msg_size"},
		{name: "bad listen", cfg: cluster.Config{Embedded: cluster.EmbeddedConfig{StoreDir: "/x", Listen: "nope"}}, wantErr: "embedded.listen"},
		{name: "routes need cluster listen", cfg: cluster.Config{Embedded: cluster.EmbeddedConfig{StoreDir: "/x", Routes: []string{"nats-route://h:1"}}}, wantErr: "routes"},
		{name: "cluster needs names", cfg: cluster.Config{Embedded: cluster.EmbeddedConfig{StoreDir: "/x", Listen: ":0", ClusterListen: ":0"}}, wantErr: "server_name"},
		{name: "cluster needs listen", cfg: cluster.Config{Embedded: cluster.EmbeddedConfig{StoreDir: "/x", ClusterListen: ":0"}}, wantErr: "embedded.listen"},
		{name: "cert without key", cfg: cluster.Config{URL: "nats://a", CertFile: "c"}, wantErr: "key_file"},
		{name: "short ttl", cfg: cluster.Config{URL: "nats://a", PresenceTTL: time.Millisecond}, wantErr: "presence_ttl"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := cluster.New(tc.cfg, testLogger(t))
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("New: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("New = %v, want error containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestClusterRunWithoutStart(t *testing.T) {
	c, err := cluster.New(embedded(t), testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Run(t.Context()); !errors.Is(err, cluster.ErrNotStarted) {
		t.Fatalf("Run = %v, want ErrNotStarted", err)
	}
}

func TestClusterAppendFollowOrder(t *testing.T) {
	checkNoLeaks(t)
	n := startNode(t, embedded(t))
	log := n.ObjectLog()
	ctx := t.Context()

	f := follow(t, log, ball)
	var want []string
	for i := range 50 {
		data := "b" + strconv.Itoa(i)
		obj := ball
		if i%5 == 0 {
			obj = otherObj // interleave another object; its records must not show up
		}
		seq, err := log.Append(ctx, obj, []byte(data))
		if err != nil {
			t.Fatalf("Append(%d): %v", i, err)
		}
		if obj == ball {
			want = append(want, fmt.Sprintf("%d batch %s", seq, data))
		}
	}
	got := f.waitRecords(t, len(want))
	if diff := cmp.Diff(want, recordsOf(got)); diff != "" {
		t.Errorf("followed records mismatch (-want +got):\n%s", diff)
	}
	if got[len(got)-1].Pending != 0 {
		t.Errorf("last record Pending = %d, want 0", got[len(got)-1].Pending)
	}
	head, err := log.Head(ctx, ball)
	if err != nil {
		t.Fatalf("Head: %v", err)
	}
	if head != got[len(got)-1].Seq {
		t.Errorf("Head = %d, want %d", head, got[len(got)-1].Seq)
	}
	if head, err := log.Head(ctx, cluster.ObjectID{Scope: "live", Name: "none"}); err != nil || head != 0 {
		t.Errorf("Head(empty object) = %d, %v; want 0, nil", head, err)
	}
}

func TestClusterAppendAsyncOrder(t *testing.T) {
	checkNoLeaks(t)
	cfg := embedded(t)
	cfg.MaxPendingAppends = 64 // force AppendAsync to wait for slots
	n := startNode(t, cfg)
	log := n.ObjectLog()

	const count = 2000
	var (
		mu   sync.Mutex
		seqs = make([]uint64, 0, count)
		errs []error
		wg   sync.WaitGroup
	)
	wg.Add(count)
	for i := range count {
		err := log.AppendAsync(t.Context(), ballP, []byte(strconv.Itoa(i)), func(seq uint64, err error) {
			defer wg.Done()
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			seqs = append(seqs, seq)
		})
		if err != nil {
			t.Fatalf("AppendAsync(%d): %v", i, err)
		}
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d appends failed, first: %v", len(errs), errs[0])
	}
	for i := 1; i < len(seqs); i++ {
		if seqs[i] <= seqs[i-1] {
			t.Fatalf("acks out of order: seq %d after %d", seqs[i], seqs[i-1])
		}
	}
	got := follow(t, log, ballP).waitRecords(t, count)
	for i, r := range got {
		if string(r.Data) != strconv.Itoa(i) || r.Seq != seqs[i] {
			t.Fatalf("record %d = seq %d %q, want seq %d %q", i, r.Seq, r.Data, seqs[i], strconv.Itoa(i))
		}
	}
}

func TestClusterAppendTooLarge(t *testing.T) {
	checkNoLeaks(t)
	cfg := embedded(t)
	cfg.MaxMsgSize = 1000
	n := startNode(t, cfg)
	log := n.ObjectLog()
	big := make([]byte, 1001)
	if _, err := log.Append(t.Context(), ball, big); !errors.Is(err, cluster.ErrTooLarge) {
		t.Errorf("Append(1001 bytes) = %v, want ErrTooLarge", err)
	}
	if err := log.AppendAsync(t.Context(), ball, big, func(uint64, error) { t.Error("done called") }); !errors.Is(err, cluster.ErrTooLarge) {
		t.Errorf("AppendAsync(1001 bytes) = %v, want ErrTooLarge", err)
	}
	if err := log.Snapshot(t.Context(), ball, 0, big); !errors.Is(err, cluster.ErrTooLarge) {
		t.Errorf("Snapshot(1001 bytes) = %v, want ErrTooLarge", err)
	}
	if _, err := log.Append(t.Context(), ball, big[:1000]); err != nil {
		t.Errorf("Append(1000 bytes) = %v, want success", err)
	}
}

func TestClusterFollowFromSnapshot(t *testing.T) {
	checkNoLeaks(t)
	n := startNode(t, embedded(t))
	log := n.ObjectLog()
	ctx := t.Context()

	appendAll := func(data ...string) []uint64 {
		t.Helper()
		seqs := make([]uint64, len(data))
		for i, d := range data {
			var err error
			if seqs[i], err = log.Append(ctx, ballP, []byte(d)); err != nil {
				t.Fatalf("Append: %v", err)
			}
		}
		return seqs
	}
	abc := appendAll("a", "b", "c")
	if err := log.Snapshot(ctx, ballP, abc[2], []byte("S(abc)")); err != nil {
		t.Fatalf("Snapshot(%d): %v", abc[2], err)
	}
	snap1, err := log.Head(ctx, ballP)
	if err != nil {
		t.Fatalf("Head: %v", err)
	}
	de := appendAll("d", "e")

	// The first snapshot erases nothing: a follower that had not read a, b
	// and c yet still gets them, then the snapshot.
	f := follow(t, log, ballP)
	got := f.waitRecords(t, 6)
	want := []string{
		fmt.Sprintf("%d batch a", abc[0]), fmt.Sprintf("%d batch b", abc[1]), fmt.Sprintf("%d batch c", abc[2]),
		fmt.Sprintf("%d snap S(abc)", snap1),
		fmt.Sprintf("%d batch d", de[0]), fmt.Sprintf("%d batch e", de[1]),
	}
	if diff := cmp.Diff(want, recordsOf(got)); diff != "" {
		t.Errorf("records after the first snapshot mismatch (-want +got):\n%s", diff)
	}
	// A second snapshot, seen by the live follower, erases what came before
	// the first one, and only that.
	if err := log.Snapshot(ctx, ballP, de[1], []byte("S(abcde)")); err != nil {
		t.Fatalf("Snapshot(%d): %v", de[1], err)
	}
	snap2, err := log.Head(ctx, ballP)
	if err != nil {
		t.Fatalf("Head: %v", err)
	}
	live := f.waitRecords(t, 7)
	if r := live[6]; !r.Snapshot || string(r.Data) != "S(abcde)" {
		t.Errorf("live record after snapshot = %+v, want the snapshot", r)
	}
	got = follow(t, log, ballP).waitRecords(t, 4)
	want = []string{
		fmt.Sprintf("%d snap S(abc)", snap1),
		fmt.Sprintf("%d batch d", de[0]), fmt.Sprintf("%d batch e", de[1]),
		fmt.Sprintf("%d snap S(abcde)", snap2),
	}
	if diff := cmp.Diff(want, recordsOf(got)); diff != "" {
		t.Errorf("records after the second snapshot mismatch (-want +got):\n%s", diff)
	}
}

func TestClusterSnapshotStaleIsRefused(t *testing.T) {
	checkNoLeaks(t)
	n := startNode(t, embedded(t))
	log := n.ObjectLog()
	ctx := t.Context()

	s1, _ := log.Append(ctx, ball, []byte("1"))
	s2, _ := log.Append(ctx, ball, []byte("2"))
	read := s2                                    // a node builds its state up to here...
	s3, err := log.Append(ctx, ball, []byte("3")) // ...while another batch lands
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	for _, lastSeq := range []uint64{read, 0, s3 + 1} {
		if err := log.Snapshot(ctx, ball, lastSeq, []byte("stale")); !errors.Is(err, cluster.ErrSnapshotStale) {
			t.Errorf("Snapshot(lastSeq %d, head %d) = %v, want ErrSnapshotStale", lastSeq, s3, err)
		}
	}
	got := follow(t, log, ball).waitRecords(t, 3)
	want := []string{
		fmt.Sprintf("%d batch 1", s1), fmt.Sprintf("%d batch 2", s2), fmt.Sprintf("%d batch 3", s3),
	}
	if diff := cmp.Diff(want, recordsOf(got)); diff != "" {
		t.Errorf("records after stale snapshot mismatch (-want +got):\n%s", diff)
	}
	// Snapshot of an empty log is guarded by 0.
	if err := log.Snapshot(ctx, otherObj, 0, []byte("init")); err != nil {
		t.Errorf("Snapshot(empty, 0): %v", err)
	}
}

func TestClusterDropPurgesOnlyThatObject(t *testing.T) {
	checkNoLeaks(t)
	n := startNode(t, embedded(t))
	log := n.ObjectLog()
	ctx := t.Context()
	nested := cluster.ObjectID{Scope: "live/room1/ball", Name: "x"}
	objs := []cluster.ObjectID{ball, ballP, otherObj, nested}
	heads := make(map[cluster.ObjectID]uint64)
	for _, o := range objs {
		seq, err := log.Append(ctx, o, []byte(o.String()))
		if err != nil {
			t.Fatalf("Append(%s): %v", o, err)
		}
		heads[o] = seq
	}
	if err := log.Drop(ctx, ball, heads[ball], []byte("tomb")); err != nil {
		t.Fatalf("Drop: %v", err)
	}
	for _, o := range objs {
		head, err := log.Head(ctx, o)
		if err != nil {
			t.Fatalf("Head(%s): %v", o, err)
		}
		if dropped := o == ball; dropped != (head != heads[o]) {
			t.Errorf("Head(%s) = %d after dropping %s, was %d", o, head, ball, heads[o])
		}
	}
	// A dropped object starts again from its tombstone.
	tomb, err := log.Head(ctx, ball)
	if err != nil {
		t.Fatalf("Head: %v", err)
	}
	seq, err := log.Append(ctx, ball, []byte("again"))
	if err != nil {
		t.Fatalf("Append after Drop: %v", err)
	}
	got := follow(t, log, ball).waitRecords(t, 2)
	want := []string{fmt.Sprintf("%d snap tomb", tomb), fmt.Sprintf("%d batch again", seq)}
	if diff := cmp.Diff(want, recordsOf(got)); diff != "" {
		t.Errorf("records after drop mismatch (-want +got):\n%s", diff)
	}
}

func TestClusterPersistentSurvivesRestart(t *testing.T) {
	checkNoLeaks(t)
	cfg := embedded(t)
	n := startNode(t, cfg)
	var want []string
	for _, d := range []string{"x", "y", "z"} {
		seq, err := n.ObjectLog().Append(t.Context(), ballP, []byte(d))
		if err != nil {
			t.Fatalf("Append: %v", err)
		}
		want = append(want, fmt.Sprintf("%d batch %s", seq, d))
	}
	if _, err := n.ObjectLog().Append(t.Context(), ball, []byte("transient")); err != nil {
		t.Fatalf("Append: %v", err)
	}
	n.stop()

	n2 := startNode(t, cfg)
	got := follow(t, n2.ObjectLog(), ballP).waitRecords(t, 3)
	if diff := cmp.Diff(want, recordsOf(got)); diff != "" {
		t.Errorf("persistent records after restart mismatch (-want +got):\n%s", diff)
	}
	// Transient objects live in memory; the stream is usable again anyway.
	if _, err := n2.ObjectLog().Append(t.Context(), ball, []byte("after")); err != nil {
		t.Errorf("Append(transient) after restart: %v", err)
	}
}

func TestClusterFollowSurvivesServerRestart(t *testing.T) {
	checkNoLeaks(t)
	dir := t.TempDir()
	srv := clustertest.StartServer(t, dir)
	url := srv.ClientURL()
	n := startNode(t, cluster.Config{URL: url, Name: "node-a"})
	log := n.ObjectLog()
	f := follow(t, log, ballP)
	s1, err := log.Append(t.Context(), ballP, []byte("before"))
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	f.waitRecords(t, 1)

	port := srv.Addr().(*net.TCPAddr).Port
	srv.Shutdown()
	srv.WaitForShutdown()
	clustertest.StartServerOn(t, dir, port)

	var s2 uint64
	checkFor(t, 20*time.Second, 100*time.Millisecond, func() error {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		s2, err = log.Append(ctx, ballP, []byte("after"))
		return err
	})
	got := f.waitRecords(t, 2)
	want := []string{fmt.Sprintf("%d batch before", s1), fmt.Sprintf("%d batch after", s2)}
	if diff := cmp.Diff(want, recordsOf(got)); diff != "" {
		t.Errorf("records across restart mismatch (-want +got):\n%s", diff)
	}
	// The transient stream (memory) was recreated after the reconnect.
	checkFor(t, 10*time.Second, 100*time.Millisecond, func() error {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		_, err := log.Append(ctx, ball, []byte("t"))
		return err
	})
}

func TestClusterPresenceExpiresWhenNodeStops(t *testing.T) {
	checkNoLeaks(t)
	url := clustertest.StartNATS(t)
	const ttl = time.Second
	a := startNode(t, cluster.Config{URL: url, Name: "node-a", PresenceTTL: ttl})
	b := startNode(t, cluster.Config{URL: url, Name: "node-b", PresenceTTL: ttl})
	ctx := t.Context()

	anyone := func(n *node, obj cluster.ObjectID) bool {
		t.Helper()
		ok, err := n.Presence().Anyone(ctx, obj)
		if err != nil {
			t.Fatalf("Anyone(%s): %v", obj, err)
		}
		return ok
	}
	if anyone(b, ball) {
		t.Fatalf("Anyone before any Join = true")
	}
	if err := a.Presence().Join(ctx, ball, "node-a"); err != nil {
		t.Fatalf("Join: %v", err)
	}
	if err := b.Presence().Join(ctx, otherObj, "node-b"); err != nil {
		t.Fatalf("Join: %v", err)
	}
	// Nested scope with the node id as name must not count as presence.
	if anyone(b, cluster.ObjectID{Scope: "live", Name: "room1"}) {
		t.Errorf("Anyone(live/room1) = true, keys of live/room1/ball leak into it")
	}
	joined := time.Now()
	// Refresh keeps the key alive well past its TTL.
	checkFor(t, 10*time.Second, 100*time.Millisecond, func() error {
		if !anyone(b, ball) {
			return fmt.Errorf("presence of %s lost %v after Join while node-a runs", ball, time.Since(joined))
		}
		if time.Since(joined) < 3*ttl {
			return fmt.Errorf("only %v since Join", time.Since(joined))
		}
		return nil
	})
	a.stop() // node-a stops refreshing, as if killed
	checkFor(t, 5*ttl, 50*time.Millisecond, func() error {
		if anyone(b, ball) {
			return fmt.Errorf("presence of %s still there after node-a stopped", ball)
		}
		return nil
	})
	if !anyone(b, otherObj) {
		t.Errorf("presence of %s (node-b, running) expired", otherObj)
	}
	if err := b.Presence().Leave(ctx, otherObj, "node-b"); err != nil {
		t.Fatalf("Leave: %v", err)
	}
	if anyone(b, otherObj) {
		t.Errorf("Anyone after Leave = true")
	}
}

func TestClusterReplicatedAppendSurvivesServerLoss(t *testing.T) {
	checkNoLeaks(t)
	servers := clustertest.StartClusterServers(t, 3)
	var urls []string
	for _, s := range servers {
		urls = append(urls, s.ClientURL())
	}
	n := startNode(t, cluster.Config{URL: strings.Join(urls, ","), Name: "node-a", Replicas: 3})
	log := n.ObjectLog()

	info, err := n.JetStream().Stream(t.Context(), cluster.PersistentStream)
	if err != nil {
		t.Fatalf("Stream: %v", err)
	}
	if r := info.CachedInfo().Config.Replicas; r != 3 {
		t.Fatalf("stream replicas = %d, want 3", r)
	}

	acked := map[uint64]string{}
	appendOne := func(i int) {
		data := "m" + strconv.Itoa(i)
		for {
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
			seq, err := log.Append(ctx, ballP, []byte(data))
			cancel()
			if err == nil {
				acked[seq] = data
				return
			}
			if t.Context().Err() != nil {
				t.Fatalf("Append(%s): %v", data, err)
			}
		}
	}
	for i := range 100 {
		appendOne(i)
	}
	// Shut down the stream leader: the hardest server to lose.
	si, err := info.Info(t.Context())
	if err != nil {
		t.Fatalf("stream info: %v", err)
	}
	stopped := false
	for _, s := range servers {
		if s.Name() == si.Cluster.Leader {
			s.Shutdown()
			s.WaitForShutdown()
			stopped = true
		}
	}
	if !stopped {
		t.Fatalf("stream leader %q not among servers", si.Cluster.Leader)
	}
	start := time.Now()
	for i := 100; i < 200; i++ {
		appendOne(i)
	}
	t.Logf("100 appends after losing the leader took %v", time.Since(start))

	var maxSeq uint64
	for seq := range acked {
		maxSeq = max(maxSeq, seq)
	}
	f := follow(t, log, ballP)
	var got []cluster.Record
	checkFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		got, err = f.snapshot()
		if err != nil {
			return err
		}
		if len(got) == 0 || got[len(got)-1].Seq < maxSeq {
			return fmt.Errorf("have %d records, want up to seq %d", len(got), maxSeq)
		}
		return nil
	})
	for _, r := range got {
		if want, ok := acked[r.Seq]; ok && want != string(r.Data) {
			t.Errorf("record %d = %q, acknowledged as %q", r.Seq, r.Data, want)
		}
		delete(acked, r.Seq)
	}
	if len(acked) > 0 {
		t.Errorf("%d acknowledged records lost: %v", len(acked), acked)
	}
}

func TestClusterEmbeddedAuth(t *testing.T) {
	checkNoLeaks(t)
	// Config.Token also protects the embedded server when Embedded sets no
	// credentials of its own.
	mgr := startNode(t, cluster.Config{Name: "manager", Token: "s3cret", Embedded: cluster.EmbeddedConfig{
		Listen: "127.0.0.1:0", StoreDir: t.TempDir(),
	}})
	url := mgr.ClientURL()
	if !strings.HasPrefix(url, "nats://127.0.0.1:") {
		t.Fatalf("ClientURL = %q, want a loopback nats URL", url)
	}
	// The manager itself reached its server in-process with the token.
	if _, err := mgr.ObjectLog().Append(t.Context(), ball, []byte("m")); err != nil {
		t.Fatalf("manager Append: %v", err)
	}
	good := startNode(t, cluster.Config{URL: url, Name: "node-a", Token: "s3cret"})
	if _, err := good.ObjectLog().Append(t.Context(), ball, []byte("n")); err != nil {
		t.Fatalf("node Append: %v", err)
	}
	bad, err := cluster.New(cluster.Config{URL: url, Name: "node-b", Token: "wrong", ConnectTimeout: 500 * time.Millisecond}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := bad.Start(t.Context()); err == nil || !strings.Contains(err.Error(), "connect") {
		t.Fatalf("Start with a wrong token = %v, want a connect error", err)
	}
}

func TestClusterAppendAsyncTimesOutWhileDisconnected(t *testing.T) {
	checkNoLeaks(t)
	dir := t.TempDir()
	srv := clustertest.StartServer(t, dir)
	port := srv.Addr().(*net.TCPAddr).Port
	n := startNode(t, cluster.Config{URL: srv.ClientURL(), Name: "node-a", AckTimeout: 300 * time.Millisecond})
	srv.Shutdown()
	srv.WaitForShutdown()
	checkFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		if n.Conn().IsConnected() {
			return errors.New("still connected")
		}
		return nil
	})
	got := make(chan error, 1)
	err := n.ObjectLog().AppendAsync(t.Context(), ballP, []byte("lost?"), func(_ uint64, err error) { got <- err })
	if err != nil {
		t.Fatalf("AppendAsync while reconnecting: %v", err)
	}
	select {
	case err := <-got:
		if !errors.Is(err, cluster.ErrAckTimeout) {
			t.Errorf("done(err = %v), want ErrAckTimeout", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("done not called 5s after AppendAsync with a 300ms ack timeout")
	}
	// Back online: appends work again.
	clustertest.StartServerOn(t, dir, port)
	checkFor(t, 20*time.Second, 100*time.Millisecond, func() error {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		_, err := n.ObjectLog().Append(ctx, ballP, []byte("back"))
		return err
	})
}

func TestClusterEmbeddedServersFormNATSCluster(t *testing.T) {
	checkNoLeaks(t)
	ports := clustertest.FreePorts(t, 3)
	var routes []string
	for _, p := range ports {
		routes = append(routes, "nats-route://127.0.0.1:"+strconv.Itoa(p))
	}
	nodes := make([]*node, 3)
	var wg sync.WaitGroup
	for i := range nodes {
		cfg := cluster.Config{
			Name:     "node-" + strconv.Itoa(i),
			Replicas: 3,
			Embedded: cluster.EmbeddedConfig{
				Listen:        "127.0.0.1:0",
				StoreDir:      t.TempDir(),
				ServerName:    "embedded-" + strconv.Itoa(i),
				ClusterName:   "shoal",
				ClusterListen: "127.0.0.1:" + strconv.Itoa(ports[i]),
				Routes:        routes,
			},
		}
		// The servers need each other for a JetStream quorum: start together.
		wg.Go(func() { nodes[i] = startNode(t, cfg) })
	}
	began := time.Now()
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("3 embedded servers formed a cluster in %v", time.Since(began))
	f := follow(t, nodes[2].ObjectLog(), ballP)
	seq, err := nodes[0].ObjectLog().Append(t.Context(), ballP, []byte("replicated"))
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	got := f.waitRecords(t, 1)
	if diff := cmp.Diff([]string{fmt.Sprintf("%d batch replicated", seq)}, recordsOf(got)); diff != "" {
		t.Errorf("records on another embedded server mismatch (-want +got):\n%s", diff)
	}
	s, err := nodes[1].JetStream().Stream(t.Context(), cluster.PersistentStream)
	if err != nil {
		t.Fatalf("Stream: %v", err)
	}
	if r := s.CachedInfo().Config.Replicas; r != 3 {
		t.Errorf("stream replicas = %d, want 3", r)
	}
}
