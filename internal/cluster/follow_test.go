package cluster_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shoal-live/shoal/internal/cluster"
	"github.com/shoal-live/shoal/internal/cluster/clustertest"
)

// A follower that is live when the server leading its stream goes away
// keeps delivering every acknowledged batch, in order, soon after the
// stream has a new leader.
func TestClusterLiveFollowSurvivesStreamLeaderLoss(t *testing.T) {
	checkNoLeaks(t)
	servers := clustertest.StartClusterServers(t, 3)
	var urls []string
	for _, s := range servers {
		urls = append(urls, s.ClientURL())
	}
	n := startNode(t, cluster.Config{URL: strings.Join(urls, ","), Name: "node-a", Replicas: 3})
	log := n.ObjectLog()
	f := follow(t, log, ballP)

	var acked []uint64
	appendOne := func(i int) {
		t.Helper()
		for {
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
			seq, err := log.Append(ctx, ballP, []byte("m"+strconv.Itoa(i)))
			cancel()
			if err == nil {
				acked = append(acked, seq)
				return
			}
			if t.Context().Err() != nil {
				t.Fatalf("Append(m%d): %v", i, err)
			}
		}
	}
	for i := range 20 {
		appendOne(i)
	}
	f.waitRecords(t, 20)

	s, err := n.JetStream().Stream(t.Context(), cluster.PersistentStream)
	if err != nil {
		t.Fatalf("Stream: %v", err)
	}
	si, err := s.Info(t.Context())
	if err != nil {
		t.Fatalf("stream info: %v", err)
	}
	for _, srv := range servers {
		if srv.Name() == si.Cluster.Leader {
			srv.Shutdown()
			srv.WaitForShutdown()
		}
	}
	for i := 20; i < 40; i++ {
		appendOne(i)
	}
	last := time.Now()
	// The consumer lived on a server that may be gone: two missed
	// heartbeats (4 s) and a new consumer.
	checkFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		got, err := f.snapshot()
		if err != nil {
			return err
		}
		if len(got) < len(acked) {
			return fmt.Errorf("follower has %d records, want %d", len(got), len(acked))
		}
		return nil
	})
	t.Logf("follower caught up %v after the last append", time.Since(last).Round(time.Millisecond))
	got, _ := f.snapshot()
	for i, r := range got {
		if i >= len(acked) || r.Seq != acked[i] || string(r.Data) != "m"+strconv.Itoa(i) {
			t.Fatalf("record %d = seq %d %q, want seq %d m%d (records %s)", i, r.Seq, r.Data, acked[min(i, len(acked)-1)], i, recordsOf(got))
		}
	}
}
