package e2e

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shoal-live/shoal/internal/smclient"
)

// smUpConfig is the shoal.yml of the scale test: free ports, 1 s reports
// and evaluations, edges of capacity 20 (the 60 % alarm fires at the 13th
// subscriber), a 3 s scale-in wait.
const smUpConfig = `
http:
  addr: 127.0.0.1:0
cluster:
  report_interval: 1s
nats:
  embedded:
    listen: 127.0.0.1:0
autoscale:
  interval: 1s
  competitive_gap: 1s
  scale_in_wait: 3s
  drain_timeout: 20s
  new_node_ping_timeout: 30s
seed:
  edge_capacity: 20
  origin_min: 1
  origin_max: 1
  edge_min: 1
  edge_max: 3
`

// TestScaleUpOutInAndReplace runs `shoal up` as a process and scales its
// edges with real shoal-node processes: a load generator opens subscribers
// through the subscribe API until the edge passes 60 %, a second edge is
// launched by the local provider, registers and takes the new subscribers;
// without load an edge is drained and terminated; an edge killed with
// SIGKILL is replaced. The node state transitions are read from the
// store's SQLite file and the scaling events from the API. Ctrl-C stops
// everything and leaves no process behind.
func TestScaleUpOutInAndReplace(t *testing.T) {
	needBinary(t, "ffmpeg")
	ctx := t.Context()
	dataDir := t.TempDir()
	dbPath := filepath.Join(dataDir, "manager", "shoal.db")
	up := smStart(t, "shoal-up", []string{"up", "--config", smWriteFile(t, "shoal.yml", smUpConfig), "--data-dir", dataDir}, nil)
	c := up.client
	f := up.waitLog(t, "cluster up", 60*time.Second)
	if f["group"] != "default" || f["origin_rtmp"] == "" || f["edge_rtmp"] == "" {
		t.Fatalf("cluster up line %v: want the default group's origin and edge", f)
	}
	edge1 := smWaitNodes(t, c, "default", "edge", "inservice", 1, 10*time.Second)[0]

	// A publisher.
	pub, err := c.Broadcast(ctx, "live", "stream1")
	if err != nil {
		t.Fatal(err)
	}
	smPublish(t, "ffmpeg-publisher", pub.RTMPURL)
	checkFor(t, 20*time.Second, 200*time.Millisecond, func() error {
		_, err := c.Subscribe(ctx, "live", "stream1")
		return err
	})

	// Load: 13 subscribers of 20 on the only edge, 65 % > 60 %.
	mark := smLastEvent(t, c)
	var load smPlayers
	t.Cleanup(load.closeAll)
	for i := range 13 {
		p, err := load.add(ctx, c, "live", "stream1")
		if err != nil {
			t.Fatalf("player %d: %v", i+1, err)
		}
		if !strings.Contains(p.url, edge1.RTMPAddr()) {
			t.Fatalf("player %d sent to %s, want the only edge %s", i+1, p.url, edge1.RTMPAddr())
		}
	}
	checkFor(t, 20*time.Second, 200*time.Millisecond, func() error {
		for _, p := range load.players {
			if p.packets.Load() == 0 {
				return fmt.Errorf("player on %s received nothing yet", p.url)
			}
		}
		return nil
	})

	// A second edge is launched, registers and is in service.
	edges := smWaitNodes(t, c, "default", "edge", "inservice", 2, 60*time.Second)
	edge2 := edges[0]
	if edge2.Identifier == edge1.Identifier {
		edge2 = edges[1]
	}
	out := smWaitEvent(t, c, "scale_out", "edge", mark, 5*time.Second)
	if !strings.Contains(out.Reason, "> 60% threshold") {
		t.Errorf("scale-out reason %q, want the 60%% alarm", out.Reason)
	}
	if out.NodeID != edge2.Identifier {
		t.Errorf("scale-out event names node %q, want the new edge %s", out.NodeID, edge2.Identifier)
	}
	t.Logf("scale-out: %s", out.Reason)
	if got := smStates(smNodeEvents(t, dbPath), edge2.Identifier); !slices.Equal(got, []string{"PENDING", "RUNNING", "INSERVICE"}) &&
		!slices.Equal(got, []string{"PENDING", "INSERVICE"}) {
		t.Errorf("new edge states %v, want PENDING [RUNNING] INSERVICE", got)
	}

	// New subscribers go to the new edge, and play from it.
	for i := range 3 {
		p, err := load.add(ctx, c, "live", "stream1")
		if err != nil {
			t.Fatalf("player %d after scale-out: %v", i+1, err)
		}
		if !strings.Contains(p.url, edge2.RTMPAddr()) {
			t.Errorf("player %d after scale-out sent to %s, want the new edge %s", i+1, p.url, edge2.RTMPAddr())
		}
	}
	checkFor(t, 20*time.Second, 200*time.Millisecond, func() error {
		for _, p := range load.players {
			if p.packets.Load() == 0 {
				return fmt.Errorf("player on %s received nothing yet", p.url)
			}
		}
		return nil
	})

	// The load goes: an edge is drained, then terminated and removed.
	mark = smLastEvent(t, c)
	load.closeAll()
	in := smWaitEvent(t, c, "scale_in", "edge", mark, 30*time.Second)
	term := smWaitEvent(t, c, "terminate", "edge", mark, 30*time.Second)
	if in.NodeID == "" || term.NodeID != in.NodeID {
		t.Fatalf("drained %q, terminated %q: want one node", in.NodeID, term.NodeID)
	}
	t.Logf("scale-in: %s", in.Reason)
	remaining := smWaitNodes(t, c, "default", "edge", "inservice", 1, 30*time.Second)[0]
	checkFor(t, 30*time.Second, 200*time.Millisecond, func() error {
		got := smStates(smNodeEvents(t, dbPath), in.NodeID)
		if !smHasSuffix(got, []string{"INSERVICE", "TERMINATING", "REMOVED"}) {
			return fmt.Errorf("drained edge states %v, want ... INSERVICE TERMINATING REMOVED", got)
		}
		return nil
	})

	// kill -9 the remaining edge: it is replaced.
	pids := smNodePIDs(t, up)
	pid, ok := pids[remaining.Identifier]
	if !ok {
		t.Fatalf("no pid logged for %s (have %v)", remaining.Identifier, pids)
	}
	mark = smLastEvent(t, c)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 %d: %v", pid, err)
	}
	replace := smWaitEvent(t, c, "replace", "edge", mark, 30*time.Second)
	t.Logf("replacement: %s", replace.Reason)
	replacement := smWaitNodes(t, c, "default", "edge", "inservice", 1, 60*time.Second)[0]
	if replacement.Identifier == remaining.Identifier {
		t.Fatalf("killed edge %s still in service", remaining.Identifier)
	}
	checkFor(t, 30*time.Second, 200*time.Millisecond, func() error {
		got := smStates(smNodeEvents(t, dbPath), remaining.Identifier)
		if !smHasSuffix(got, []string{"INSERVICE", "FAULT", "TERMINATING", "REMOVED"}) {
			return fmt.Errorf("killed edge states %v, want ... INSERVICE FAULT TERMINATING REMOVED", got)
		}
		return nil
	})
	if _, err := c.Subscribe(ctx, "live", "stream1"); err != nil {
		t.Errorf("subscribe after the replacement: %v", err)
	}

	// Ctrl-C stops everything, and no node process is left.
	pids = smNodePIDs(t, up)
	smInterrupt(t, up.proc)
	if up.waitErr != nil {
		t.Errorf("shoal up exited with %v after SIGINT", up.waitErr)
	}
	for node, pid := range pids {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("node %s (pid %d) still exists after shoal up stopped: %v", node, pid, err)
		}
	}
	if n := up.countLog("node removed"); n < len(pids) {
		t.Errorf("%d node records removed, want at least %d", n, len(pids))
	}
}

// smNodePIDs returns the pid of every node process the local provider
// started, by node identifier, from the manager's log.
func smNodePIDs(t *testing.T, m *smManager) map[string]int {
	t.Helper()
	m.mu.Lock()
	lines := slices.Clone(m.mu.lines)
	m.mu.Unlock()
	out := map[string]int{}
	for _, l := range lines {
		f := parseLogLine(l)
		if f["msg"] != "node process started" {
			continue
		}
		pid, err := strconv.Atoi(f["pid"])
		if err != nil {
			t.Fatalf("bad pid in %q", l)
		}
		out[f["node_id"]] = pid
	}
	return out
}

// smLastEvent returns the id of the newest scaling event, 0 if none.
func smLastEvent(t *testing.T, c *smclient.Client) int64 {
	t.Helper()
	evs, err := c.ScalingEvents(context.Background(), smclient.ScalingEventFilter{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) == 0 {
		return 0
	}
	return evs[0].ID
}

// smWaitEvent waits for the oldest scaling event with that action and role
// and an id above after.
func smWaitEvent(t *testing.T, c *smclient.Client, action, role string, after int64, timeout time.Duration) smclient.ScalingEvent {
	t.Helper()
	var found smclient.ScalingEvent
	checkFor(t, timeout, 200*time.Millisecond, func() error {
		evs, err := c.ScalingEvents(context.Background(), smclient.ScalingEventFilter{Limit: 1000})
		if err != nil {
			return err
		}
		slices.Reverse(evs)
		var seen []string
		for _, e := range evs {
			if e.ID > after && e.Action == action && e.Role == role {
				found = e
				return nil
			}
			seen = append(seen, e.Action+" "+e.Role)
		}
		return fmt.Errorf("no %s %s event after #%d; events: %v", action, role, after, seen)
	})
	return found
}
