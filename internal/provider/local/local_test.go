//go:build unix

package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/shoal-live/shoal/internal/provider"
)

// fakeNodeSource is a stand-in for shoal-node. It writes what it was started
// with to $FAKE_NODE_OUT, starts a child in its process group (to prove that
// stopping reaches the whole group), then waits for SIGTERM.
// FAKE_NODE_MODE=exit makes it exit at once; ignore-term makes it and its
// child ignore SIGTERM, so only SIGKILL ends them.
const fakeNodeSource = `package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"
)

type report struct {
	Args     []string
	Secret   string
	Group    string
	Extra    string
	Dir      string
	PID      int
	ChildPID int
}

func main() {
	mode := os.Getenv("FAKE_NODE_MODE")
	if os.Getenv("FAKE_NODE_CHILD") == "1" {
		if mode == "ignore-term" {
			signal.Ignore(syscall.SIGTERM)
		}
		for {
			time.Sleep(time.Hour) // select{} would be a detected deadlock
		}
	}
	term := make(chan os.Signal, 1)
	if mode == "ignore-term" {
		signal.Ignore(syscall.SIGTERM)
	} else {
		signal.Notify(term, syscall.SIGTERM)
	}
	child := exec.Command(os.Args[0])
	child.Env = append(os.Environ(), "FAKE_NODE_CHILD=1")
	if err := child.Start(); err != nil {
		panic(err)
	}
	dir, _ := os.Getwd()
	r := report{
		Args: os.Args[1:], Secret: os.Getenv("SHOAL_NODE_MANAGER_SECRET"),
		Group: os.Getenv("SHOAL_NODE_MANAGER_GROUP"), Extra: os.Getenv("FAKE_EXTRA"),
		Dir: dir, PID: os.Getpid(), ChildPID: child.Process.Pid,
	}
	b, _ := json.Marshal(r)
	out := os.Getenv("FAKE_NODE_OUT")
	if err := os.WriteFile(out+".tmp", b, 0o644); err != nil {
		panic(err)
	}
	if err := os.Rename(out+".tmp", out); err != nil {
		panic(err)
	}
	os.Stderr.WriteString("fake node up\n")
	if mode == "exit" {
		os.Exit(3)
	}
	if mode == "ignore-term" {
		for {
			time.Sleep(time.Hour)
		}
	}
	<-term
	os.Exit(0)
}
`

type fakeReport struct {
	Args     []string
	Secret   string
	Group    string
	Extra    string
	Dir      string
	PID      int
	ChildPID int
}

var fakeNodeBinary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "fake-shoal-node-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake node:", err)
		os.Exit(1)
	}
	bin, err := buildFakeNode(dir)
	if err != nil {
		_ = os.RemoveAll(dir)
		fmt.Fprintln(os.Stderr, "build fake shoal-node (needs the go tool on PATH):", err)
		os.Exit(1)
	}
	fakeNodeBinary = bin
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

func buildFakeNode(dir string) (string, error) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(fakeNodeSource), 0o644); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module fakenode\n\ngo 1.26\n"), 0o644); err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "shoal-node")
	cmd := exec.CommandContext(context.Background(), goTool, "build", "-o", bin, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("%w: %s", err, out)
	}
	return bin, nil
}

func checkFor(t *testing.T, timeout, interval time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %v", timeout, err)
		}
		time.Sleep(interval)
	}
}

func newProvider(t *testing.T, stop time.Duration) *Provider {
	t.Helper()
	p, err := New(Config{Binary: fakeNodeBinary, WorkDir: t.TempDir(), StopTimeout: stop}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func spec(out, mode string) provider.Spec {
	return provider.Spec{
		Group:      "g1",
		Role:       "edge",
		NodeID:     "node-7",
		ManagerURL: "http://127.0.0.1:5080",
		Secret:     "s3cret",
		NATSURL:    "nats://127.0.0.1:4222",
		Env:        map[string]string{"FAKE_NODE_OUT": out, "FAKE_NODE_MODE": mode, "FAKE_EXTRA": "x"},
		Metadata:   map[string]string{"owner": "test"},
	}
}

func readReport(t *testing.T, path string) fakeReport {
	t.Helper()
	var r fakeReport
	checkFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return json.Unmarshal(b, &r)
	})
	return r
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return !errors.Is(err, os.ErrNotExist) // no /proc: trust kill(0)
	}
	// pid (comm) S ...: the state follows the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

func checkGone(t *testing.T, pids ...int) {
	t.Helper()
	checkFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		for _, pid := range pids {
			if alive(pid) {
				return fmt.Errorf("process %d still alive", pid)
			}
		}
		return nil
	})
}

func TestCreate_ArgsEnvStateAndDelete(t *testing.T) {
	p := newProvider(t, 5*time.Second)
	out := filepath.Join(t.TempDir(), "report.json")
	inst, err := p.Create(t.Context(), spec(out, ""))
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if inst.State != provider.StateRunning || inst.Address != "127.0.0.1" || inst.Spec.NodeID != "node-7" {
		t.Errorf("Create = state %v address %q node %q, want RUNNING 127.0.0.1 node-7", inst.State, inst.Address, inst.Spec.NodeID)
	}
	r := readReport(t, out)
	instDir := filepath.Join(p.WorkDir(), inst.ID)
	wantArgs := []string{
		"--rtmp-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0",
		"--role", "edge", "--node-id", "node-7", "--data-dir", filepath.Join(instDir, "data"),
		"--manager-url", "http://127.0.0.1:5080", "--nats-url", "nats://127.0.0.1:4222",
	}
	if diff := cmp.Diff(wantArgs, r.Args); diff != "" {
		t.Errorf("node args (-want +got):\n%s", diff)
	}
	if r.Secret != "s3cret" || r.Group != "g1" || r.Extra != "x" {
		t.Errorf("node env secret=%q group=%q extra=%q, want s3cret g1 x", r.Secret, r.Group, r.Extra)
	}
	if r.Dir != instDir {
		t.Errorf("node working dir = %q, want %q", r.Dir, instDir)
	}
	if fi, err := os.Stat(filepath.Join(instDir, "data")); err != nil || !fi.IsDir() {
		t.Errorf("data dir: %v", err)
	}
	checkFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		b, err := os.ReadFile(filepath.Join(instDir, "node.log"))
		if err != nil {
			return err
		}
		if !strings.Contains(string(b), "fake node up") {
			return fmt.Errorf("node.log = %q, want the node's stderr", b)
		}
		return nil
	})

	got, err := p.Get(t.Context(), inst.ID)
	if err != nil || got.State != provider.StateRunning {
		t.Fatalf("Get = %v, %v; want RUNNING", got.State, err)
	}
	if err := p.UpdateMetadata(t.Context(), inst.ID, map[string]string{"owner": "", "tier": "1"}); err != nil {
		t.Fatalf("UpdateMetadata: %v", err)
	}
	list, err := p.List(t.Context())
	if err != nil || len(list) != 1 {
		t.Fatalf("List = %d instances, %v; want 1", len(list), err)
	}
	if diff := cmp.Diff(map[string]string{"tier": "1"}, list[0].Metadata); diff != "" {
		t.Errorf("metadata after update (-want +got):\n%s", diff)
	}

	start := time.Now()
	if err := p.Delete(t.Context(), inst.ID); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("Delete took %s; the node exits on SIGTERM, so no SIGKILL wait was expected", d)
	}
	checkGone(t, r.PID, r.ChildPID)
	if _, err := p.Get(t.Context(), inst.ID); !errors.Is(err, provider.ErrNotFound) {
		t.Errorf("Get after Delete = %v, want ErrNotFound", err)
	}
}

func TestDelete_EscalatesToSIGKILL(t *testing.T) {
	p := newProvider(t, 300*time.Millisecond)
	out := filepath.Join(t.TempDir(), "report.json")
	inst, err := p.Create(t.Context(), spec(out, "ignore-term"))
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	r := readReport(t, out)
	start := time.Now()
	if err := p.Delete(t.Context(), inst.ID); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("Delete returned after %s, before the stop timeout; SIGTERM should have been ignored", d)
	}
	checkGone(t, r.PID, r.ChildPID)
}

func TestDelete_ContextEndKillsAtOnce(t *testing.T) {
	p := newProvider(t, time.Hour)
	out := filepath.Join(t.TempDir(), "report.json")
	inst, err := p.Create(t.Context(), spec(out, "ignore-term"))
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	r := readReport(t, out)
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	if err := p.Delete(ctx, inst.ID); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	checkGone(t, r.PID, r.ChildPID)
}

func TestUnexpectedExit_IsTerminated(t *testing.T) {
	p := newProvider(t, time.Second)
	out := filepath.Join(t.TempDir(), "report.json")
	inst, err := p.Create(t.Context(), spec(out, "exit"))
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	r := readReport(t, out)
	checkFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		got, err := p.Get(t.Context(), inst.ID)
		if err != nil {
			return err
		}
		if got.State != provider.StateTerminated {
			return fmt.Errorf("state = %v, want TERMINATED", got.State)
		}
		return nil
	})
	if err := p.Delete(t.Context(), inst.ID); err != nil {
		t.Fatalf("Delete of a terminated instance: %v", err)
	}
	// The node's child was left in the group; Delete must have ended it.
	checkGone(t, r.PID, r.ChildPID)
	if list, _ := p.List(t.Context()); len(list) != 0 {
		t.Errorf("List after Delete = %d instances, want 0", len(list))
	}
}

func TestRun_EndKillsEveryChild(t *testing.T) {
	p := newProvider(t, 300*time.Millisecond)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()

	var pids []int
	for i, mode := range []string{"", "ignore-term", ""} {
		out := filepath.Join(t.TempDir(), fmt.Sprintf("report%d.json", i))
		if _, err := p.Create(t.Context(), spec(out, mode)); err != nil {
			t.Fatalf("Create %d: %v", i, err)
		}
		r := readReport(t, out)
		pids = append(pids, r.PID, r.ChildPID)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	checkGone(t, pids...)
	if _, err := p.Create(t.Context(), spec(filepath.Join(t.TempDir(), "x"), "")); !errors.Is(err, ErrClosed) {
		t.Errorf("Create after Run ended = %v, want ErrClosed", err)
	}
}

func TestUnknownID_IsNotFound(t *testing.T) {
	p := newProvider(t, time.Second)
	ctx := t.Context()
	if _, err := p.Get(ctx, "nope"); !errors.Is(err, provider.ErrNotFound) {
		t.Errorf("Get = %v, want ErrNotFound", err)
	}
	if err := p.Delete(ctx, "nope"); !errors.Is(err, provider.ErrNotFound) {
		t.Errorf("Delete = %v, want ErrNotFound", err)
	}
	if err := p.UpdateMetadata(ctx, "nope", nil); !errors.Is(err, provider.ErrNotFound) {
		t.Errorf("UpdateMetadata = %v, want ErrNotFound", err)
	}
}

func TestNew_BinaryErrors(t *testing.T) {
	dir := t.TempDir()
	notExec := filepath.Join(dir, "shoal-node")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, binary, want string
	}{
		{"missing path", filepath.Join(dir, "missing"), "missing"},
		{"not executable", notExec, "not an executable"},
		{"not on PATH", "shoal-node-does-not-exist", "shoal-node-does-not-exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(Config{Binary: tt.binary, WorkDir: t.TempDir()}, slog.New(slog.DiscardHandler))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New(%q) = %v, want an error mentioning %q", tt.binary, err, tt.want)
			}
		})
	}
}

func TestCreate_RequiresRole(t *testing.T) {
	p := newProvider(t, time.Second)
	if _, err := p.Create(t.Context(), provider.Spec{}); err == nil {
		t.Error("Create without a role succeeded, want an error")
	}
}

func TestEnv_SecretAndGroupWin(t *testing.T) {
	got := Env([]string{"PATH=/bin", SecretEnv + "=old"}, provider.Spec{
		Group: "g", Secret: "new", Env: map[string]string{"B": "2", "A": "1", SecretEnv: "fromspec"},
	})
	want := []string{"PATH=/bin", SecretEnv + "=old", "A=1", "B=2", SecretEnv + "=fromspec", GroupEnv + "=g", SecretEnv + "=new"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Env (-want +got):\n%s", diff)
	}
}
