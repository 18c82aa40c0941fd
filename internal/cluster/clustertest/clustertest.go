// Package clustertest starts real in-process NATS servers with JetStream for
// tests: one server, or a NATS cluster of several servers as goroutines of
// the test process. Servers store in t.TempDir() and stop with the test.
package clustertest

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// StartNATS starts a JetStream server on a free loopback port and returns
// its client URL. The server shuts down when the test ends.
func StartNATS(t testing.TB) string {
	t.Helper()
	return StartServer(t, t.TempDir()).ClientURL()
}

// StartServer starts a JetStream server storing in storeDir on a free
// loopback port. Tests that restart a server on the same directory use it.
// The server shuts down when the test ends (Shutdown is idempotent).
func StartServer(t testing.TB, storeDir string) *server.Server {
	t.Helper()
	return StartServerOn(t, storeDir, server.RANDOM_PORT)
}

// StartServerOn is StartServer on a given loopback port, to restart a server
// where its clients expect it.
func StartServerOn(t testing.TB, storeDir string, port int) *server.Server {
	t.Helper()
	opts := &server.Options{
		Host:      "127.0.0.1",
		Port:      port,
		JetStream: true,
		StoreDir:  storeDir,
		NoSigs:    true,
		NoLog:     true,
	}
	return start(t, opts)
}

// StartCluster starts an n-server NATS cluster with JetStream, all on
// loopback in this process, waits until it has a JetStream meta leader, and
// returns the client URLs.
func StartCluster(t testing.TB, n int) []string {
	t.Helper()
	servers := StartClusterServers(t, n)
	urls := make([]string, len(servers))
	for i, s := range servers {
		urls[i] = s.ClientURL()
	}
	return urls
}

// StartClusterServers is StartCluster returning the servers, so a test can
// shut one down.
func StartClusterServers(t testing.TB, n int) []*server.Server {
	t.Helper()
	if n < 1 {
		t.Fatalf("StartClusterServers(%d): need at least one server", n)
	}
	routePorts := FreePorts(t, n)
	routes := make([]string, n)
	for i, p := range routePorts {
		routes[i] = "nats-route://127.0.0.1:" + strconv.Itoa(p)
	}
	servers := make([]*server.Server, n)
	for i := range n {
		opts := &server.Options{
			ServerName: fmt.Sprintf("S-%d", i+1),
			Host:       "127.0.0.1",
			Port:       server.RANDOM_PORT,
			JetStream:  true,
			StoreDir:   t.TempDir(),
			NoSigs:     true,
			NoLog:      true,
			Cluster: server.ClusterOpts{
				Name: "shoal-test",
				Host: "127.0.0.1",
				Port: routePorts[i],
			},
			Routes: server.RoutesFromStr(strings.Join(routes, ",")),
		}
		servers[i] = start(t, opts)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		ready := true
		leader := false
		for _, s := range servers {
			if s.NumRoutes() < n-1 || !s.JetStreamIsCurrent() {
				ready = false
			}
			leader = leader || s.JetStreamIsLeader()
		}
		if ready && (leader || n == 1) {
			return servers
		}
		if time.Now().After(deadline) {
			t.Fatalf("StartClusterServers(%d): cluster not formed after 20s", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func start(t testing.TB, opts *server.Options) *server.Server {
	t.Helper()
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatalf("start nats server: %v", err)
	}
	s.Start()
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatalf("start nats server %s: not ready after 10s", opts.ServerName)
	}
	return s
}

// FreePorts returns n loopback TCP ports that were free a moment ago, for
// servers that must know each other's addresses before they start.
func FreePorts(t testing.TB, n int) []int {
	t.Helper()
	ports := make([]int, n)
	lns := make([]net.Listener, n)
	for i := range n {
		ln, err := new(net.ListenConfig).Listen(t.Context(), "tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("find free port: %v", err)
		}
		lns[i] = ln
		ports[i] = ln.Addr().(*net.TCPAddr).Port
	}
	for _, ln := range lns {
		if err := ln.Close(); err != nil {
			t.Fatalf("find free port: %v", err)
		}
	}
	return ports
}
