// Package local is the default cloud bridge: it runs each media node as a
// shoal-node process on this machine.
//
// Every instance gets a directory under the work dir:
//
//	<work dir>/<instance id>/data      the node's --data-dir
//	<work dir>/<instance id>/node.log  the node's stdout and stderr
//
// The node listens on free loopback ports (--rtmp-addr 127.0.0.1:0
// --http-addr 127.0.0.1:0) and tells the manager its real ports when it
// registers. The cluster secret travels in the environment
// (SHOAL_NODE_MANAGER_SECRET), never on the command line, where any local
// user could read it.
//
// Each process leads its own process group, so stopping an instance also
// stops anything it started. A process lives like this:
//
//	Create ──▶ Running ──Delete──▶ Terminating ──SIGTERM ok──▶ (forgotten)
//	              │                     └──StopTimeout──▶ SIGKILL ──▶ (forgotten)
//	              └──exits on its own──▶ Terminated ──Delete──▶ (forgotten)
//
// Close (or the end of Run) stops every process the provider started.
package local

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/shoal-live/shoal/internal/provider"
)

var _ provider.Provider = (*Provider)(nil)

// ErrClosed is returned by Create after Close.
var ErrClosed = errors.New("local provider closed")

// SecretEnv is the environment variable that carries the cluster secret to
// the node (shoal-node reads manager.secret from it).
const SecretEnv = "SHOAL_NODE_MANAGER_SECRET"

// GroupEnv is the environment variable that carries the node group.
const GroupEnv = "SHOAL_NODE_MANAGER_GROUP"

// DefaultStopTimeout is how long Delete waits after SIGTERM before SIGKILL.
// shoal-node drains its connections on SIGTERM; ten seconds covers one
// reporting interval.
const DefaultStopTimeout = 10 * time.Second

// Config configures the local provider.
type Config struct {
	// Binary is the shoal-node executable. Empty means a shoal-node file
	// next to the running executable, else shoal-node on PATH. A name
	// without a slash is looked up on PATH.
	Binary string
	// WorkDir holds one directory per instance. Empty means
	// $TMPDIR/shoal-local.
	WorkDir string
	// StopTimeout is how long Delete waits after SIGTERM before SIGKILL.
	// Zero means DefaultStopTimeout.
	StopTimeout time.Duration
	// Host is the address reported for every instance. Empty means
	// 127.0.0.1, where the nodes listen.
	Host string
}

// Provider runs shoal-node processes. It is safe for concurrent use.
type Provider struct {
	binary      string
	workDir     string
	stopTimeout time.Duration
	host        string
	runID       string
	logger      *slog.Logger

	wg sync.WaitGroup // one waiter goroutine per started process

	mu     sync.Mutex
	procs  map[string]*proc
	seq    int
	closed bool
}

// proc is one started process. done is closed once the process has exited
// and been reaped; exitErr is set before that.
type proc struct {
	inst    provider.Instance // ID, Spec, Address, CreatedAt; Metadata guarded by Provider.mu
	cmd     *exec.Cmd
	done    chan struct{}
	exitErr error

	stopping bool // guarded by Provider.mu
}

// New resolves the binary and creates the work dir. It starts nothing.
func New(cfg Config, logger *slog.Logger) (*Provider, error) {
	bin, err := resolveBinary(cfg.Binary)
	if err != nil {
		return nil, err
	}
	dir := cfg.WorkDir
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "shoal-local")
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("local provider work dir: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("local provider work dir: %w", err)
	}
	stop := cfg.StopTimeout
	if stop <= 0 {
		stop = DefaultStopTimeout
	}
	host := cfg.Host
	if host == "" {
		host = "127.0.0.1"
	}
	var b [4]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand documents it)
	return &Provider{
		binary:      bin,
		workDir:     dir,
		stopTimeout: stop,
		host:        host,
		runID:       hex.EncodeToString(b[:]),
		logger:      logger,
		procs:       make(map[string]*proc),
	}, nil
}

// resolveBinary finds the shoal-node executable as Config.Binary documents.
func resolveBinary(name string) (string, error) {
	if name != "" {
		if filepath.Base(name) == name {
			p, err := exec.LookPath(name)
			if err != nil {
				return "", fmt.Errorf("local provider binary %q: %w", name, err)
			}
			return p, nil
		}
		if err := checkExecutable(name); err != nil {
			return "", fmt.Errorf("local provider binary: %w", err)
		}
		return filepath.Abs(name)
	}
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), "shoal-node")
		if checkExecutable(p) == nil {
			return p, nil
		}
	}
	p, err := exec.LookPath("shoal-node")
	if err != nil {
		return "", fmt.Errorf("local provider: shoal-node not found next to the running executable or on PATH: %w", err)
	}
	return p, nil
}

func checkExecutable(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", path)
	}
	return nil
}

// Binary returns the shoal-node executable the provider starts.
func (p *Provider) Binary() string { return p.binary }

// WorkDir returns the directory that holds the instance directories.
func (p *Provider) WorkDir() string { return p.workDir }

// Create starts a shoal-node process for spec. The process is not tied to
// ctx: it runs until Delete, Close or the end of Run.
func (p *Provider) Create(ctx context.Context, spec provider.Spec) (provider.Instance, error) {
	if spec.Role == "" {
		return provider.Instance{}, errors.New("create local instance: spec has no role")
	}
	if err := ctx.Err(); err != nil {
		return provider.Instance{}, fmt.Errorf("create local instance: %w", err)
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return provider.Instance{}, ErrClosed
	}
	p.seq++
	id := fmt.Sprintf("local-%s-%d", p.runID, p.seq)
	p.mu.Unlock()

	dir := filepath.Join(p.workDir, id)
	dataDir := filepath.Join(dir, "data")
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return provider.Instance{}, fmt.Errorf("create local instance %s: %w", id, err)
	}
	logFile, err := os.OpenFile(filepath.Join(dir, "node.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return provider.Instance{}, fmt.Errorf("create local instance %s: %w", id, err)
	}
	defer func() { _ = logFile.Close() }() // the child holds its own descriptor

	nodeID := spec.NodeID
	if nodeID == "" {
		nodeID = id
	}
	// The process outlives ctx (Create's context only bounds the call);
	// Delete, Close and Run end it.
	cmd := exec.CommandContext(context.WithoutCancel(ctx), p.binary, Args(spec, nodeID, dataDir)...)
	cmd.Dir = dir
	cmd.Env = Env(os.Environ(), spec)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = sysProcAttr()

	pr := &proc{
		inst: provider.Instance{
			ID:        id,
			Spec:      cloneSpec(spec),
			Address:   p.host,
			CreatedAt: time.Now(),
			Metadata:  maps.Clone(spec.Metadata),
		},
		cmd:  cmd,
		done: make(chan struct{}),
	}
	pr.inst.Spec.NodeID = nodeID

	// Start under the lock so that Close cannot miss a process.
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return provider.Instance{}, ErrClosed
	}
	if err := cmd.Start(); err != nil {
		return provider.Instance{}, fmt.Errorf("create local instance %s: start %s: %w", id, p.binary, err)
	}
	p.procs[id] = pr
	p.wg.Go(func() {
		pr.exitErr = cmd.Wait()
		close(pr.done)
		p.mu.Lock()
		unexpected := !pr.stopping
		p.mu.Unlock()
		if unexpected {
			p.logger.Warn("node process exited", "instance_id", id, "node_id", nodeID, "err", pr.exitErr)
		}
	})
	p.logger.Info("node process started", "instance_id", id, "node_id", nodeID, "role", spec.Role,
		"group", spec.Group, "pid", cmd.Process.Pid, "dir", dir)
	return p.instanceLocked(pr), nil
}

// Args returns the shoal-node command line for spec: free loopback ports,
// role, node ID, data dir, and the manager and NATS URLs when set.
func Args(spec provider.Spec, nodeID, dataDir string) []string {
	args := []string{
		"--rtmp-addr", "127.0.0.1:0",
		"--http-addr", "127.0.0.1:0",
		"--role", spec.Role,
		"--node-id", nodeID,
		"--data-dir", dataDir,
	}
	if spec.ManagerURL != "" {
		args = append(args, "--manager-url", spec.ManagerURL)
	}
	if spec.NATSURL != "" {
		args = append(args, "--nats-url", spec.NATSURL)
	}
	return args
}

// Env returns base plus the node's variables: spec.Env (sorted, so the
// result is stable), the group and the cluster secret. Later entries win,
// so the secret and group cannot be overridden by base or spec.Env.
func Env(base []string, spec provider.Spec) []string {
	env := slices.Clone(base)
	for _, k := range slices.Sorted(maps.Keys(spec.Env)) {
		env = append(env, k+"="+spec.Env[k])
	}
	if spec.Group != "" {
		env = append(env, GroupEnv+"="+spec.Group)
	}
	if spec.Secret != "" {
		env = append(env, SecretEnv+"="+spec.Secret)
	}
	return env
}

// Delete stops the instance's process group (SIGTERM, then SIGKILL after
// the stop timeout, or at once if ctx ends first), waits for it, and
// forgets the instance.
func (p *Provider) Delete(ctx context.Context, id string) error {
	p.mu.Lock()
	pr, ok := p.procs[id]
	if !ok {
		p.mu.Unlock()
		return fmt.Errorf("delete local instance %s: %w", id, provider.ErrNotFound)
	}
	pr.stopping = true
	p.mu.Unlock()

	p.stop(ctx, pr)

	p.mu.Lock()
	delete(p.procs, id)
	p.mu.Unlock()
	p.logger.Info("node process stopped", "instance_id", id, "node_id", pr.inst.Spec.NodeID, "exit", exitString(pr.exitErr))
	return nil
}

// stop ends pr's process group and returns once the leader is reaped.
func (p *Provider) stop(ctx context.Context, pr *proc) {
	select {
	case <-pr.done:
	default:
		signalGroup(pr.cmd.Process, syscall.SIGTERM)
		t := time.NewTimer(p.stopTimeout)
		select {
		case <-pr.done:
		case <-t.C:
			p.logger.Warn("node process ignored SIGTERM, killing it", "instance_id", pr.inst.ID, "timeout", p.stopTimeout)
			signalGroup(pr.cmd.Process, syscall.SIGKILL)
			<-pr.done
		case <-ctx.Done():
			signalGroup(pr.cmd.Process, syscall.SIGKILL)
			<-pr.done
		}
		t.Stop()
	}
	// Anything the node started in its group and left behind goes too.
	signalGroup(pr.cmd.Process, syscall.SIGKILL)
}

// Get returns the instance with its state read from the process.
func (p *Provider) Get(_ context.Context, id string) (provider.Instance, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pr, ok := p.procs[id]
	if !ok {
		return provider.Instance{}, fmt.Errorf("get local instance %s: %w", id, provider.ErrNotFound)
	}
	return p.instanceLocked(pr), nil
}

// List returns every instance, sorted by ID creation order.
func (p *Provider) List(_ context.Context) ([]provider.Instance, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]provider.Instance, 0, len(p.procs))
	for _, pr := range p.procs {
		out = append(out, p.instanceLocked(pr))
	}
	slices.SortFunc(out, func(a, b provider.Instance) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out, nil
}

// UpdateMetadata merges md into the instance's metadata.
func (p *Provider) UpdateMetadata(_ context.Context, id string, md map[string]string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	pr, ok := p.procs[id]
	if !ok {
		return fmt.Errorf("update local instance %s metadata: %w", id, provider.ErrNotFound)
	}
	pr.inst.Metadata = provider.MergeMetadata(pr.inst.Metadata, md)
	return nil
}

// instanceLocked returns a copy of pr's instance with its current state.
func (p *Provider) instanceLocked(pr *proc) provider.Instance {
	inst := pr.inst
	inst.Spec = cloneSpec(pr.inst.Spec)
	inst.Metadata = maps.Clone(pr.inst.Metadata)
	select {
	case <-pr.done:
		inst.State = provider.StateTerminated
	default:
		if pr.stopping {
			inst.State = provider.StateTerminating
		} else {
			inst.State = provider.StateRunning
		}
	}
	return inst
}

// Run blocks until ctx ends, then stops every process (see Close).
func (p *Provider) Run(ctx context.Context) error {
	<-ctx.Done()
	return p.Close()
}

// Close stops every process the provider started, in parallel, each with
// SIGTERM and then SIGKILL after the stop timeout, and waits for all of
// them. Create fails afterwards. Close is idempotent.
func (p *Provider) Close() error {
	p.mu.Lock()
	p.closed = true
	procs := slices.Collect(maps.Values(p.procs))
	for _, pr := range procs {
		pr.stopping = true
	}
	p.mu.Unlock()

	var wg sync.WaitGroup
	for _, pr := range procs {
		wg.Go(func() { p.stop(context.Background(), pr) })
	}
	wg.Wait()
	p.wg.Wait()

	p.mu.Lock()
	for _, pr := range procs {
		delete(p.procs, pr.inst.ID)
	}
	p.mu.Unlock()
	if len(procs) > 0 {
		p.logger.Info("node processes stopped", "count", len(procs))
	}
	return nil
}

func cloneSpec(s provider.Spec) provider.Spec {
	s.Env = maps.Clone(s.Env)
	s.Metadata = maps.Clone(s.Metadata)
	return s
}

func exitString(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}
