package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// binDir holds the binaries built for this test binary; TestMain removes it.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "shoal-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: make a directory for the binaries:", err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

var build struct {
	once sync.Once
	err  error
}

// binaries builds shoal-node and shoal once per test binary and returns
// their paths.
func binaries(t *testing.T) (node, shoal string) {
	t.Helper()
	build.once.Do(func() {
		goBin, err := exec.LookPath("go")
		if err != nil {
			build.err = fmt.Errorf("the go command is needed to build the binaries: %w", err)
			return
		}
		root, err := filepath.Abs(filepath.Join("..", ".."))
		if err != nil {
			build.err = err
			return
		}
		start := time.Now()
		cmd := exec.Command(goBin, "build", "-o", binDir+string(filepath.Separator), "./cmd/shoal-node", "./cmd/shoal")
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err != nil {
			build.err = fmt.Errorf("go build ./cmd/shoal-node ./cmd/shoal: %w\n%s", err, out)
			return
		}
		t.Logf("built shoal-node and shoal in %v", time.Since(start).Round(time.Millisecond))
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	return filepath.Join(binDir, "shoal-node"), filepath.Join(binDir, "shoal")
}

// checkFor polls f every interval until it returns nil, failing the test
// with f's last error after timeout.
func checkFor(t *testing.T, timeout, interval time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %v", timeout, err)
		}
		time.Sleep(interval)
	}
}

// freeAddr returns a loopback address with a port that was free a moment
// ago, for listeners whose address other processes must know before they
// start (NATS routes).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// joinURLs joins NATS URLs for --nats-url.
func joinURLs(urls []string) string { return strings.Join(urls, ",") }
