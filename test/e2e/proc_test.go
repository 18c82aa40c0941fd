package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// proc is a process started by a test. Its stderr (the slog text log) goes
// to a file in the test's temporary directory and is scanned for lines
// the test waits for. The test's cleanup kills it.
type proc struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	exited  chan struct{} // closed when the process has exited
	waitErr error         // set before exited closes

	mu struct {
		sync.Mutex
		lines   []string
		changed chan struct{} // closed and replaced when a line arrives or the log ends
		ended   bool
	}
}

// startProc starts bin with args and extra environment variables, in dir.
func startProc(t *testing.T, name, bin, dir string, args, env []string) *proc {
	t.Helper()
	logDir := logDir(t)
	p := &proc{name: name, logPath: filepath.Join(logDir, name+".log"), exited: make(chan struct{})}
	p.mu.changed = make(chan struct{})
	logFile, err := os.Create(p.logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = dieWithParent()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	p.cmd = cmd
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		p.scan(stderr, logFile)
	}()
	go func() {
		<-scanned // Wait closes the pipe; read it to the end first
		p.waitErr = cmd.Wait()
		logFile.Close()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.kill(t)
		if t.Failed() {
			p.dumpTail(t, 60)
		}
	})
	return p
}

func (p *proc) scan(r io.Reader, w io.Writer) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		_, _ = io.WriteString(w, line+"\n")
		p.mu.Lock()
		p.mu.lines = append(p.mu.lines, line)
		close(p.mu.changed)
		p.mu.changed = make(chan struct{})
		p.mu.Unlock()
	}
	_, _ = io.Copy(w, r)
	p.mu.Lock()
	p.mu.ended = true
	close(p.mu.changed)
	p.mu.changed = make(chan struct{})
	p.mu.Unlock()
}

// waitLog waits for a log line with msg="msg" (or msg=msg) and returns its
// fields.
func (p *proc) waitLog(t *testing.T, msg string, timeout time.Duration) map[string]string {
	t.Helper()
	deadline := time.After(timeout)
	seen := 0
	for {
		p.mu.Lock()
		lines, ended, changed := p.mu.lines[seen:], p.mu.ended, p.mu.changed
		seen = len(p.mu.lines)
		p.mu.Unlock()
		for _, l := range lines {
			if f := parseLogLine(l); f["msg"] == msg {
				return f
			}
		}
		if ended {
			t.Fatalf("%s exited before logging %q", p.name, msg)
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("%s did not log %q within %v", p.name, msg, timeout)
		}
	}
}

// countLog counts the log lines with msg="msg".
func (p *proc) countLog(msg string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, l := range p.mu.lines {
		if parseLogLine(l)["msg"] == msg {
			n++
		}
	}
	return n
}

// parseLogLine splits a slog text line into its key=value fields.
func parseLogLine(line string) map[string]string {
	f := map[string]string{}
	for line != "" {
		line = strings.TrimLeft(line, " ")
		eq := strings.IndexByte(line, '=')
		if eq <= 0 {
			break
		}
		key := line[:eq]
		rest := line[eq+1:]
		var val string
		if strings.HasPrefix(rest, `"`) {
			end := 1
			for end < len(rest) && rest[end] != '"' {
				if rest[end] == '\\' {
					end++
				}
				end++
			}
			if end >= len(rest) {
				break
			}
			v, err := strconv.Unquote(rest[:end+1])
			if err != nil {
				break
			}
			val, line = v, rest[end+1:]
		} else {
			sp := strings.IndexByte(rest, ' ')
			if sp < 0 {
				sp = len(rest)
			}
			val, line = rest[:sp], rest[sp:]
		}
		if _, dup := f[key]; !dup {
			f[key] = val
		}
	}
	return f
}

// kill kills the process with SIGKILL, as a crash would, and waits for it.
func (p *proc) kill(t *testing.T) {
	t.Helper()
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		t.Errorf("%s (pid %d) still running 10s after SIGKILL", p.name, p.cmd.Process.Pid)
	}
}

// stop asks the process to stop with SIGTERM and waits for a clean exit.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		if p.waitErr != nil {
			t.Errorf("%s exited with %v after SIGTERM", p.name, p.waitErr)
		}
	case <-time.After(15 * time.Second):
		t.Errorf("%s did not stop within 15s of SIGTERM; killing it", p.name)
		p.kill(t)
	}
}

func (p *proc) dumpTail(t *testing.T, n int) {
	t.Helper()
	p.mu.Lock()
	lines := p.mu.lines[max(0, len(p.mu.lines)-n):]
	p.mu.Unlock()
	t.Logf("---- last %d log lines of %s (full log: %s) ----\n%s", len(lines), p.name, p.logPath, strings.Join(lines, "\n"))
}

var logDirs sync.Map // *testing.T → string

// logDir returns the test's directory for process logs. Unlike
// t.TempDir, it is kept when the test fails (or SHOAL_E2E_KEEP_LOGS is
// set), for a look at the whole logs.
func logDir(t *testing.T) string {
	t.Helper()
	if d, ok := logDirs.Load(t); ok {
		return d.(string)
	}
	d, err := os.MkdirTemp("", "shoal-e2e-"+strings.ReplaceAll(t.Name(), "/", "_")+"-")
	if err != nil {
		t.Fatal(err)
	}
	logDirs.Store(t, d)
	t.Cleanup(func() {
		logDirs.Delete(t)
		if t.Failed() || os.Getenv("SHOAL_E2E_KEEP_LOGS") != "" {
			t.Logf("process logs kept in %s", d)
			return
		}
		_ = os.RemoveAll(d)
	})
	return d
}

// node is a running shoal-node process.
type node struct {
	*proc
	id       string
	dataDir  string
	rtmpAddr string
	httpAddr string
	natsURL  string // the embedded NATS server's client URL, if it listens
}

// nodeConfig says how to start a node.
type nodeConfig struct {
	id string
	// dataDir keeps the node's state across restarts; empty: a new
	// temporary directory.
	dataDir string
	// natsURL joins NATS (comma-separated servers); empty runs NATS
	// embedded, listening for other nodes on embeddedAddr.
	natsURL string
	// embeddedAddr is where embedded NATS listens; empty: a free port.
	embeddedAddr string
	// env adds SHOAL_NODE_* settings.
	env []string
}

// startNode starts a shoal-node on free loopback ports and waits until it
// serves.
func startNode(t *testing.T, cfg nodeConfig) *node {
	t.Helper()
	bin, _ := binaries(t)
	if cfg.dataDir == "" {
		cfg.dataDir = t.TempDir()
	}
	args := []string{
		"--rtmp-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0",
		"--node-id", cfg.id, "--data-dir", cfg.dataDir,
	}
	env := append([]string{}, cfg.env...)
	if cfg.natsURL != "" {
		args = append(args, "--nats-url", cfg.natsURL)
	} else {
		addr := cfg.embeddedAddr
		if addr == "" {
			addr = "127.0.0.1:0"
		}
		env = append(env, "SHOAL_NODE_CLUSTER_EMBEDDED_ADDR="+addr)
	}
	// The working directory has no shoal-node.yml: defaults, flags, env.
	p := startProc(t, cfg.id, bin, t.TempDir(), args, env)
	n := &node{proc: p, id: cfg.id, dataDir: cfg.dataDir}
	if cfg.natsURL == "" {
		n.natsURL = p.waitLog(t, "embedded nats listening", 30*time.Second)["nats_url"]
	}
	started := p.waitLog(t, "node started", 30*time.Second)
	n.rtmpAddr, n.httpAddr = started["rtmp_addr"], started["http_addr"]
	if n.rtmpAddr == "" || n.httpAddr == "" {
		t.Fatalf("%s: node started line without addresses: %v", cfg.id, started)
	}
	checkFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		h, err := n.health()
		if err != nil {
			return err
		}
		if h.Status != "ok" || h.RTMPAddr != n.rtmpAddr || h.HTTPAddr != n.httpAddr {
			return fmt.Errorf("%s /healthz = %+v, want ok on %s and %s", cfg.id, h, n.rtmpAddr, n.httpAddr)
		}
		return nil
	})
	return n
}

type health struct {
	Status   string `json:"status"`
	NodeID   string `json:"node_id"`
	RTMPAddr string `json:"rtmp_addr"`
	HTTPAddr string `json:"http_addr"`
}

func (n *node) health() (health, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+n.httpAddr+"/healthz", nil)
	if err != nil {
		return health{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return health{}, err
	}
	defer resp.Body.Close()
	var h health
	if resp.StatusCode != http.StatusOK {
		return h, fmt.Errorf("/healthz: %s", resp.Status)
	}
	err = json.NewDecoder(resp.Body).Decode(&h)
	return h, err
}

// natsServer is a running `shoal nats` process, one server of a NATS
// cluster.
type natsServer struct {
	*proc
	name          string
	storeDir      string
	listen        string // client address, fixed after the first start
	clusterListen string
	routes        []string
	clientURL     string
}

// startNATSCluster starts n `shoal nats` servers forming one NATS cluster
// with JetStream.
func startNATSCluster(t *testing.T, n int) []*natsServer {
	t.Helper()
	servers := make([]*natsServer, n)
	var routes []string
	for i := range servers {
		s := &natsServer{
			name:          fmt.Sprintf("nats-%d", i+1),
			storeDir:      t.TempDir(),
			listen:        "127.0.0.1:0",
			clusterListen: freeAddr(t),
		}
		routes = append(routes, "nats-route://"+s.clusterListen)
		servers[i] = s
	}
	for _, s := range servers {
		s.routes = routes
		s.start(t)
	}
	return servers
}

// start starts (or restarts) the server on its store directory and, after
// the first start, on the same client address.
func (s *natsServer) start(t *testing.T) {
	t.Helper()
	_, bin := binaries(t)
	args := []string{
		"nats", "-log-level", "debug", "-listen", s.listen, "-store-dir", s.storeDir, "-name", s.name,
		"-cluster-name", "e2e", "-cluster-listen", s.clusterListen, "-routes", strings.Join(s.routes, ","),
	}
	s.proc = startProc(t, s.name, bin, t.TempDir(), args, nil)
	f := s.waitLog(t, "nats listening", 30*time.Second)
	s.clientURL = f["client_url"]
	if s.clientURL == "" {
		t.Fatalf("%s logged no client_url: %v", s.name, f)
	}
	s.listen = strings.TrimPrefix(s.clientURL, "nats://")
}

func clientURLs(servers []*natsServer) string {
	urls := make([]string, len(servers))
	for i, s := range servers {
		urls[i] = s.clientURL
	}
	return joinURLs(urls)
}
