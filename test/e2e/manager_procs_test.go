package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver, to read the manager's store

	"github.com/shoal-live/shoal/internal/rtmp"
	"github.com/shoal-live/shoal/internal/smclient"
)

// Helpers of the stream manager tests (manager_*_test.go, scale_*_test.go).

// smAdminToken and smSecret are the admin token and cluster secret of the
// managers the tests start.
const (
	smAdminToken = "e2e-admin-token"
	smSecret     = "e2e-cluster-secret"
)

// smManager is a running `shoal manager` or `shoal up`.
type smManager struct {
	*proc
	url     string // http://127.0.0.1:port
	natsURL string
	client  *smclient.Client
}

// smStart runs `shoal <args>` (manager or up) in a fresh directory with
// the test token and secret, and waits until it serves.
func smStart(t *testing.T, name string, args, env []string) *smManager {
	t.Helper()
	_, bin := binaries(t)
	env = append([]string{"SHOAL_REST_ADMIN_TOKEN=" + smAdminToken, "SHOAL_CLUSTER_SECRET=" + smSecret}, env...)
	p := startProc(t, name, bin, t.TempDir(), args, env)
	f := p.waitLog(t, "manager started", 30*time.Second)
	m := &smManager{proc: p, url: f["url"], natsURL: f["nats_url"]}
	if m.url == "" || m.natsURL == "" {
		t.Fatalf("%s: manager started line without url or nats_url: %v", name, f)
	}
	m.client = smclient.New(m.url, smAdminToken, nil)
	return m
}

// smStartNode starts a shoal-node by hand with the role, registering with
// the manager (which adopts it into its only group) and joining its NATS.
func smStartNode(t *testing.T, m *smManager, name, role string) *proc {
	t.Helper()
	bin, _ := binaries(t)
	args := []string{
		"--role", role, "--rtmp-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0",
		"--data-dir", t.TempDir(), "--manager-url", m.url, "--nats-url", m.natsURL,
	}
	env := []string{"SHOAL_NODE_MANAGER_SECRET=" + smSecret, "SHOAL_NODE_MANAGER_REPORT_INTERVAL=1s"}
	p := startProc(t, name, bin, t.TempDir(), args, env)
	p.waitLog(t, "node started", 30*time.Second)
	return p
}

// smWaitNodes waits until exactly want nodes of role in the group are in
// state (and not draining), and returns them.
func smWaitNodes(t *testing.T, c *smclient.Client, group, role, state string, want int, timeout time.Duration) []smclient.Node {
	t.Helper()
	var got []smclient.Node
	checkFor(t, timeout, 100*time.Millisecond, func() error {
		nodes, err := c.Nodes(context.Background(), group)
		if err != nil {
			return err
		}
		got = got[:0]
		var all []string
		for _, n := range nodes {
			all = append(all, fmt.Sprintf("%s/%s/%s/draining=%t", n.Identifier, n.Role, n.State, n.Draining))
			if n.Role == role && n.State == state && !n.Draining {
				got = append(got, n)
			}
		}
		if len(got) != want {
			return fmt.Errorf("%d %s nodes %s in group %s, want %d; nodes: %v", len(got), role, state, group, want, all)
		}
		return nil
	})
	return got
}

// smPublish publishes a small test pattern (H.264 and AAC) with ffmpeg to
// rtmpURL until the test ends.
func smPublish(t *testing.T, name, rtmpURL string) *proc {
	t.Helper()
	needBinary(t, "ffmpeg")
	ffmpeg, _ := exec.LookPath("ffmpeg")
	args := []string{
		"-hide_banner", "-loglevel", "warning", "-nostdin", "-re",
		"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=15",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
		"-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "15", "-b:v", "300k",
		"-c:a", "aac", "-b:a", "64k", "-f", "flv", rtmpURL,
	}
	return startProc(t, name, ffmpeg, t.TempDir(), args, nil)
}

// smProbeCodecs returns the codec names ffprobe finds in src (a file or
// an RTMP URL), comma-separated in stream order.
func smProbeCodecs(t *testing.T, src string) (string, error) {
	t.Helper()
	needBinary(t, "ffprobe")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ffprobe", "-hide_banner", "-v", "error",
		"-show_entries", "stream=codec_name", "-of", "csv=p=0", src).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("ffprobe %s: %w: %s", src, err, out)
	}
	return strings.Join(strings.Fields(string(out)), ","), nil
}

// smPlayer is a Go RTMP player that reads and counts what it receives.
type smPlayer struct {
	url     string
	conn    *rtmp.ClientConn
	packets atomic.Int64
	done    chan struct{}
}

// smPlay dials rtmpURL (rtmp://host:port/scope/stream), plays the stream
// and reads it until close.
func smPlay(ctx context.Context, rtmpURL string) (*smPlayer, error) {
	u, err := url.Parse(rtmpURL)
	if err != nil {
		return nil, err
	}
	path := strings.Trim(u.Path, "/")
	i := strings.LastIndexByte(path, '/')
	if i < 0 {
		return nil, fmt.Errorf("rtmp url %q has no scope/stream", rtmpURL)
	}
	dialURL := "rtmp://" + u.Host + "/" + path[:i]
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	c, err := rtmp.Dial(ctx, dialURL, rtmp.ClientOptions{ReadTimeout: 30 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", dialURL, err)
	}
	if err := c.Play(ctx, path[i+1:]); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("play %s: %w", rtmpURL, err)
	}
	p := &smPlayer{url: rtmpURL, conn: c, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		for {
			if _, err := c.ReadPacket(); err != nil {
				return
			}
			p.packets.Add(1)
		}
	}()
	return p, nil
}

func (p *smPlayer) close() {
	_ = p.conn.Close()
	<-p.done
}

// smPlayers is a load generator: players that each asked the subscribe
// API for an edge.
type smPlayers struct {
	mu      sync.Mutex
	players []*smPlayer
}

// add asks the manager for an edge for scope/stream and plays from it.
func (ps *smPlayers) add(ctx context.Context, c *smclient.Client, scope, stream string) (*smPlayer, error) {
	ep, err := c.Subscribe(ctx, scope, stream)
	if err != nil {
		return nil, fmt.Errorf("subscribe lookup: %w", err)
	}
	p, err := smPlay(ctx, ep.RTMPURL)
	if err != nil {
		return nil, err
	}
	ps.mu.Lock()
	ps.players = append(ps.players, p)
	ps.mu.Unlock()
	return p, nil
}

func (ps *smPlayers) closeAll() {
	ps.mu.Lock()
	players := ps.players
	ps.players = nil
	ps.mu.Unlock()
	for _, p := range players {
		p.close()
	}
}

// smInterrupt stops a process with SIGINT, as Ctrl-C would, and waits for
// it to exit whatever its exit status (ffmpeg exits 255 on a signal).
func smInterrupt(t *testing.T, p *proc) {
	t.Helper()
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.exited:
	case <-time.After(15 * time.Second):
		t.Errorf("%s did not exit within 15s of SIGINT; killing it", p.name)
		p.kill(t)
	}
}

// smNodeEvent is a row of the store's node_events table.
type smNodeEvent struct {
	node, from, to, reason string
}

// smNodeEvents reads the state changes of every node from the manager's
// SQLite file, opened read-only, oldest first.
func smNodeEvents(t *testing.T, dbPath string) []smNodeEvent {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+dbPath+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query("SELECT node, from_state, to_state, reason FROM node_events ORDER BY id")
	if err != nil {
		t.Fatalf("read node_events from %s: %v", dbPath, err)
	}
	defer rows.Close()
	var out []smNodeEvent
	for rows.Next() {
		var e smNodeEvent
		if err := rows.Scan(&e.node, &e.from, &e.to, &e.reason); err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// smStates returns the states node went through, as node_events records
// them (REMOVED once its record is gone).
func smStates(events []smNodeEvent, node string) []string {
	var out []string
	for _, e := range events {
		if e.node == node && e.from != e.to {
			out = append(out, e.to)
		}
	}
	return out
}

// smHasSuffix reports whether states ends with want.
func smHasSuffix(states, want []string) bool {
	if len(states) < len(want) {
		return false
	}
	for i, w := range want {
		if states[len(states)-len(want)+i] != w {
			return false
		}
	}
	return true
}

// smWriteFile writes a file in a fresh temporary directory.
func smWriteFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
