package cluster_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/shoal-live/shoal/internal/cluster"
	"github.com/shoal-live/shoal/internal/cluster/clustertest"
)

// natsCluster is a NATS cluster of servers in the test process whose
// servers a test can restart on their files and addresses.
type natsCluster struct {
	t       *testing.T
	opts    []*server.Options
	servers []*server.Server
}

// startNATSCluster starts an n-server NATS cluster with JetStream and waits
// until it has a JetStream meta leader.
func startNATSCluster(t *testing.T, n int) *natsCluster {
	t.Helper()
	ports := clustertest.FreePorts(t, 2*n)
	routes := make([]string, n)
	for i := range n {
		routes[i] = "nats-route://127.0.0.1:" + strconv.Itoa(ports[n+i])
	}
	c := &natsCluster{t: t}
	for i := range n {
		opts := &server.Options{
			ServerName: fmt.Sprintf("S-%d", i+1),
			Host:       "127.0.0.1",
			Port:       ports[i],
			JetStream:  true,
			StoreDir:   t.TempDir(),
			NoSigs:     true,
			NoLog:      true,
			Cluster:    server.ClusterOpts{Name: "shoal-test", Host: "127.0.0.1", Port: ports[n+i]},
			Routes:     server.RoutesFromStr(strings.Join(routes, ",")),
		}
		c.opts = append(c.opts, opts)
		c.servers = append(c.servers, c.start(opts))
	}
	checkFor(t, 20*time.Second, 50*time.Millisecond, func() error {
		leader := false
		for _, s := range c.servers {
			if s.NumRoutes() < n-1 || !s.JetStreamIsCurrent() {
				return fmt.Errorf("server %s: %d routes, current %v", s.Name(), s.NumRoutes(), s.JetStreamIsCurrent())
			}
			leader = leader || s.JetStreamIsLeader()
		}
		if !leader {
			return fmt.Errorf("no meta leader")
		}
		return nil
	})
	return c
}

func (c *natsCluster) start(opts *server.Options) *server.Server {
	c.t.Helper()
	s, err := server.NewServer(opts.Clone())
	if err != nil {
		c.t.Fatalf("start nats server %s: %v", opts.ServerName, err)
	}
	s.Start()
	c.t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	if !s.ReadyForConnections(10 * time.Second) {
		c.t.Fatalf("start nats server %s: not ready after 10s", opts.ServerName)
	}
	return s
}

// url returns the client URLs of every server, comma separated.
func (c *natsCluster) url() string {
	urls := make([]string, len(c.servers))
	for i, s := range c.servers {
		urls[i] = s.ClientURL()
	}
	return strings.Join(urls, ",")
}

// restart shuts the server named name down and starts it again on its
// files and addresses.
func (c *natsCluster) restart(name string) {
	c.t.Helper()
	for i, s := range c.servers {
		if s.Name() == name {
			s.Shutdown()
			s.WaitForShutdown()
			c.servers[i] = c.start(c.opts[i])
			return
		}
	}
	c.t.Fatalf("restart %s: no such server", name)
}

// streamInfo returns fresh info on stream, or an error while it is not
// available.
func streamInfo(n *node, stream string) (*jetstream.StreamInfo, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	s, err := n.JetStream().Stream(ctx, stream)
	if err != nil {
		return nil, err
	}
	return s.CachedInfo(), nil
}

// logRecorder is a slog.Handler that keeps every record, at every level,
// as "message key=value ...", for tests that wait for a node to log
// something; it passes the records next takes on to next.
type logRecorder struct {
	next  slog.Handler
	mu    sync.Mutex
	lines []string
}

func newLogRecorder(t testing.TB) *logRecorder {
	return &logRecorder{next: testLogger(t).Handler()}
}

func (r *logRecorder) logger() *slog.Logger { return slog.New(r) }

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }

func (r *logRecorder) Handle(ctx context.Context, rec slog.Record) error {
	var b strings.Builder
	b.WriteString(rec.Message)
	rec.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	r.mu.Lock()
	r.lines = append(r.lines, b.String())
	r.mu.Unlock()
	if r.next.Enabled(ctx, rec.Level) {
		return r.next.Handle(ctx, rec)
	}
	return nil
}

// WithAttrs and WithGroup drop the attributes and groups: the tests look
// for records of the cluster package, which logs without them.
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *logRecorder) WithGroup(string) slog.Handler      { return r }

// matching returns the lines holding every one of parts.
func (r *logRecorder) matching(parts ...string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, l := range r.lines {
		if !slices.ContainsFunc(parts, func(p string) bool { return !strings.Contains(l, p) }) {
			out = append(out, l)
		}
	}
	return out
}

// waitFor waits until n lines hold every one of parts and returns them.
func (r *logRecorder) waitFor(t testing.TB, n int, parts ...string) []string {
	t.Helper()
	var got []string
	checkFor(t, 20*time.Second, 10*time.Millisecond, func() error {
		if got = r.matching(parts...); len(got) < n {
			return fmt.Errorf("%d log lines with %q, want %d", len(got), parts, n)
		}
		return nil
	})
	return got
}

// consumerNames returns the names of stream's consumers.
func consumerNames(t testing.TB, n *node, stream string) []string {
	t.Helper()
	s, err := n.JetStream().Stream(t.Context(), stream)
	if err != nil {
		t.Fatalf("Stream(%s): %v", stream, err)
	}
	lister := s.ConsumerNames(t.Context())
	var names []string
	for name := range lister.Name() {
		names = append(names, name)
	}
	if err := lister.Err(); err != nil {
		t.Fatalf("list consumers of %s: %v", stream, err)
	}
	slices.Sort(names)
	return names
}

// A transient object's stream, R1 in a NATS cluster, comes back empty
// under its old creation time when its server restarts, and other
// objects' entries pass the sequence a follower would resume from: the
// follower gets a Reset (the entry it resumes after is another object's),
// and Has tells the entries of the old log from those of the new one.
func TestFollowResetsWhenStreamComesBackEmpty(t *testing.T) {
	checkNoLeaks(t)
	// Other objects' entries take the sequences up to the follower's.
	log, f, before, last, release := streamBackEmpty(t, func(ctx context.Context, log *cluster.ObjectLog) (uint64, error) {
		return log.Append(ctx, otherObj, []byte("o"))
	})
	after := appendData(t, log, ball, "y")

	has := func(obj cluster.ObjectID, seq uint64, want bool) {
		t.Helper()
		if got, err := log.Has(t.Context(), obj, seq); err != nil || got != want {
			t.Errorf("Has(%s, %d) = %v, %v; want %v", obj, seq, got, err, want)
		}
	}
	has(ball, last, false) // another object's entry now
	has(otherObj, last, true)
	has(ball, headOf(t, log, ball), true)

	release()
	waitDescribed(t, f, slices.Concat(before, []string{reset}, after), "across the stream coming back empty")
}

// A follower that got a Reset and nothing after it, when the stream is
// recreated again, gets a second Reset.
func TestFollowResetsAgainWhenStreamRecreatedBeforeDelivery(t *testing.T) {
	checkNoLeaks(t)
	dir := t.TempDir()
	srv := clustertest.StartServer(t, dir)
	port := srv.Addr().(*net.TCPAddr).Port
	n := startNode(t, cluster.Config{URL: srv.ClientURL(), Name: "node-a"})
	log := n.ObjectLog()
	var (
		f       *follower
		blocked <-chan struct{}
		release func()
	)
	restart := func() {
		t.Helper()
		info, err := streamInfo(n, cluster.TransientStream)
		if err != nil {
			t.Fatalf("stream info: %v", err)
		}
		srv.Shutdown()
		srv.WaitForShutdown()
		srv = clustertest.StartServerOn(t, dir, port)
		// Stop the follower and the node before the server, which
		// deletes the follower's consumer and lets the node drain.
		t.Cleanup(func() {
			release()
			f.stop()
			n.stop()
		})
		checkFor(t, 20*time.Second, 50*time.Millisecond, func() error {
			again, err := streamInfo(n, cluster.TransientStream)
			switch {
			case err != nil:
				return err
			case again.Created.Equal(info.Created):
				return fmt.Errorf("stream not recreated yet")
			}
			return nil
		})
	}

	before := appendData(t, log, ball, "a", "b", "c")
	f, blocked, release = followGated(t, log, ball, headOf(t, log, ball))
	waitClosed(t, blocked, "follower at the last entry")
	restart()
	release()
	waitDescribed(t, f, slices.Concat(before, []string{reset}), "after the first recreation")

	restart()
	after := appendData(t, log, ball, "x")
	waitDescribed(t, f, slices.Concat(before, []string{reset, reset}, after), "after the second recreation")
}

// A reconnect to a server that did not restart leaves the follows on their
// consumers; Resync(stream) moves only the follows of that stream to new
// consumers.
func TestReconnectWithoutRestartKeepsFollowConsumers(t *testing.T) {
	checkNoLeaks(t)
	url := clustertest.StartNATS(t)
	rec := newLogRecorder(t)
	n := startNodeLogging(t, cluster.Config{URL: url, Name: "node-a"}, rec.logger())
	log := n.ObjectLog()
	ft, fp := follow(t, log, ball), follow(t, log, ballP)
	wantT, wantP := appendData(t, log, ball, "a"), appendData(t, log, ballP, "a")
	waitDescribed(t, ft, wantT, "transient follower")
	waitDescribed(t, fp, wantP, "persistent follower")
	consT, consP := consumerNames(t, n, cluster.TransientStream), consumerNames(t, n, cluster.PersistentStream)
	if len(consT) != 1 || len(consP) != 1 {
		t.Fatalf("consumers: transient %q, persistent %q; want one each", consT, consP)
	}

	if err := n.Conn().ForceReconnect(); err != nil {
		t.Fatalf("ForceReconnect: %v", err)
	}
	rec.waitFor(t, 1, "object streams checked after reconnect")
	if got := rec.matching("follows of object stream check their logs"); len(got) > 0 {
		t.Errorf("streams restarted after a reconnect to the same server: %q", got)
	}
	if got := consumerNames(t, n, cluster.TransientStream); !slices.Equal(got, consT) {
		t.Errorf("transient consumers after reconnect = %q, want %q", got, consT)
	}
	if got := consumerNames(t, n, cluster.PersistentStream); !slices.Equal(got, consP) {
		t.Errorf("persistent consumers after reconnect = %q, want %q", got, consP)
	}

	log.Resync(cluster.TransientStream)
	checkFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		if got := consumerNames(t, n, cluster.TransientStream); len(got) != 1 || slices.Equal(got, consT) {
			return fmt.Errorf("transient consumers %q, want one other than %q", got, consT)
		}
		return nil
	})
	if got := consumerNames(t, n, cluster.PersistentStream); !slices.Equal(got, consP) {
		t.Errorf("persistent consumers after Resync(%s) = %q, want %q", cluster.TransientStream, got, consP)
	}
	wantT = append(wantT, appendData(t, log, ball, "b")...)
	wantP = append(wantP, appendData(t, log, ballP, "b")...)
	waitDescribed(t, ft, wantT, "transient follower after Resync")
	waitDescribed(t, fp, wantP, "persistent follower after Resync")
}

// Two nodes on one standalone server that restarts: whichever recreates
// the transient stream, both see it recreated, and both find their
// persistent follows' consumers gone, and have those follows resume.
func TestServerRestartResyncsFollowsOnEveryNode(t *testing.T) {
	checkNoLeaks(t)
	dir := t.TempDir()
	srv := clustertest.StartServer(t, dir)
	port := srv.Addr().(*net.TCPAddr).Port
	recs := []*logRecorder{newLogRecorder(t), newLogRecorder(t)}
	var nodes []*node
	var fts, fps []*follower
	for i, rec := range recs {
		n := startNodeLogging(t, cluster.Config{URL: srv.ClientURL(), Name: fmt.Sprintf("node-%d", i)}, rec.logger())
		nodes = append(nodes, n)
		fts = append(fts, follow(t, n.ObjectLog(), ball))
		fps = append(fps, follow(t, n.ObjectLog(), ballP))
	}
	log := nodes[0].ObjectLog()
	wantT, wantP := appendData(t, log, ball, "a"), appendData(t, log, ballP, "a")
	for i := range nodes {
		waitDescribed(t, fts[i], wantT, "transient follower")
		waitDescribed(t, fps[i], wantP, "persistent follower")
	}

	srv.Shutdown()
	srv.WaitForShutdown()
	clustertest.StartServerOn(t, dir, port)
	// Stop the followers and the nodes before the server, which deletes
	// the followers' consumers and lets the nodes drain.
	t.Cleanup(func() {
		for _, f := range slices.Concat(fts, fps) {
			f.stop()
		}
		for _, n := range nodes {
			n.stop()
		}
	})
	for _, rec := range recs {
		rec.waitFor(t, 1, "follows of object stream check their logs", "stream="+cluster.TransientStream, "recreated")
		rec.waitFor(t, 1, "follows of object stream check their logs", "stream="+cluster.PersistentStream, "follow consumer", "gone")
	}
	checkFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		_, err := streamInfo(nodes[1], cluster.TransientStream)
		return err
	})
	wantT = slices.Concat(wantT, []string{reset}, appendData(t, log, ball, "x"))
	wantP = append(wantP, appendData(t, log, ballP, "y")...)
	for i := range nodes {
		waitDescribed(t, fts[i], wantT, "transient follower after the restart")
		waitDescribed(t, fps[i], wantP, "persistent follower after the restart")
	}
}

// A node reconnecting after the server holding an R1 memory stream in a
// NATS cluster restarted finds the stream under its old creation time but
// with a last sequence below what it saw, and has its follows check their
// logs at once.
func TestReconnectResyncsStreamThatCameBackEmpty(t *testing.T) {
	checkNoLeaks(t)
	nats := startNATSCluster(t, 3)
	rec := newLogRecorder(t)
	n := startNodeLogging(t, cluster.Config{URL: nats.url(), Name: "node-a"}, rec.logger())
	log := n.ObjectLog()
	f := follow(t, log, ball)
	before := appendData(t, log, ball, "a", "b", "c")
	waitDescribed(t, f, before, "before the restart")
	info, err := streamInfo(n, cluster.TransientStream)
	if err != nil {
		t.Fatalf("stream info: %v", err)
	}
	nats.restart(info.Cluster.Leader)
	// Reconnect whether the node was on that server or another.
	if err := n.Conn().ForceReconnect(); err != nil {
		t.Fatalf("ForceReconnect: %v", err)
	}
	got := rec.waitFor(t, 1, "follows of object stream check their logs", "stream="+cluster.TransientStream)
	if !strings.Contains(got[0], "below") {
		t.Errorf("restart reason: %q, want the last sequence below the one seen", got[0])
	}
	checkFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		_, err := log.Head(t.Context(), ball)
		return err
	})
	after := appendData(t, log, ball, "x")
	waitDescribed(t, f, slices.Concat(before, []string{reset}, after), "after the restart")
}

// Has is true for an entry of the object, false for an erased entry,
// another object's or one never written, and an error when it cannot ask.
func TestHas(t *testing.T) {
	checkNoLeaks(t)
	n := startNode(t, embedded(t))
	log := n.ObjectLog()
	appendData(t, log, ball, "a")
	a := headOf(t, log, ball)
	appendData(t, log, otherObj, "o")
	o := headOf(t, log, otherObj)
	for _, tc := range []struct {
		obj  cluster.ObjectID
		seq  uint64
		want bool
	}{
		{ball, a, true},
		{otherObj, o, true},
		{ball, o, false},
		{ballP, a, false}, // nothing written in the persistent stream
		{ball, o + 1, false},
		{ball, 0, false},
	} {
		if got, err := log.Has(t.Context(), tc.obj, tc.seq); err != nil || got != tc.want {
			t.Errorf("Has(%s, %d) = %v, %v; want %v", tc.obj, tc.seq, got, err, tc.want)
		}
	}
	if err := log.Purge(t.Context(), ball, 0); err != nil {
		t.Fatalf("Purge: %v", err)
	}
	if got, err := log.Has(t.Context(), ball, a); err != nil || got {
		t.Errorf("Has(%s, %d) after Purge = %v, %v; want false", ball, a, got, err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := log.Has(ctx, otherObj, o); err == nil {
		t.Errorf("Has with a canceled context: no error")
	}
}

// A stream that comes back empty under its creation time and grows past
// the follower's position with entries of the SAME object: the entry at
// the follower's last sequence is the object's but not the one delivered
// (another time), so the follower gets a Reset and the new entries.
func TestFollowResetsWhenStreamComesBackWithSameObjectPastIt(t *testing.T) {
	checkNoLeaks(t)
	var after []string
	_, f, before, _, release := streamBackEmpty(t, func(ctx context.Context, log *cluster.ObjectLog) (uint64, error) {
		d := fmt.Sprintf("n%d", len(after))
		seq, err := log.Append(ctx, ball, []byte(d))
		if err == nil {
			after = append(after, fmt.Sprintf("%d batch %s", seq, d))
		}
		return seq, err
	})
	release()
	waitDescribed(t, f, slices.Concat(before, []string{reset}, after), "across the stream coming back with the same object")
}

// streamBackEmpty appends three entries of ball in a three-server NATS
// cluster and follows ball, holding the follower at its last entry; then
// it restarts the server holding SO_TRANSIENT (R1), which comes back empty
// under its creation time, and calls fill until fill's entry is past the
// follower's position. It returns the follower, its entries before the restart, the
// sequence it holds at, and the function that lets it go on.
func streamBackEmpty(t *testing.T, fill func(context.Context, *cluster.ObjectLog) (uint64, error)) (
	log *cluster.ObjectLog, f *follower, before []string, last uint64, release func(),
) {
	t.Helper()
	nats := startNATSCluster(t, 3)
	n := startNode(t, cluster.Config{URL: nats.url(), Name: "node-a"})
	log = n.ObjectLog()
	before = appendData(t, log, ball, "a", "b", "c")
	last = headOf(t, log, ball)
	info, err := streamInfo(n, cluster.TransientStream)
	if err != nil {
		t.Fatalf("stream info: %v", err)
	}
	f, blocked, release := followGated(t, log, ball, last)
	waitClosed(t, blocked, "follower at the last entry")

	nats.restart(info.Cluster.Leader)
	checkFor(t, 20*time.Second, 50*time.Millisecond, func() error {
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		defer cancel()
		seq, err := fill(ctx, log)
		switch {
		case err != nil:
			return err
		case seq < last:
			return fmt.Errorf("entry at %d, want the stream past %d", seq, last)
		}
		return nil
	})
	again, err := streamInfo(n, cluster.TransientStream)
	if err != nil {
		t.Fatalf("stream info after restart: %v", err)
	}
	if !again.Created.Equal(info.Created) || again.State.FirstSeq != 1 {
		t.Fatalf("stream after restart: created %v (was %v), first seq %d: want it back empty under its creation time",
			again.Created, info.Created, again.State.FirstSeq)
	}
	return log, f, before, last, release
}
