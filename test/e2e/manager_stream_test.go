package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shoal-live/shoal/internal/smclient"
)

// TestManagerStreamsThroughEdges is the stream manager's end-to-end test
// with real processes: a manager, one origin and two edges started by hand
// on local ports; ffmpeg asks the API for an origin and publishes to it;
// two ffmpeg players ask the API for edges and play from them, each edge
// pulling the stream from the origin; ffprobe confirms the codecs of what
// they recorded; the relations map shows the origin with both edges
// linked; the stream stats count the two players.
func TestManagerStreamsThroughEdges(t *testing.T) {
	needBinary(t, "ffmpeg", "ffprobe")
	ctx := t.Context()
	// No provider: the nodes are started by hand and the manager adopts
	// them into the seeded group.
	m := smStart(t, "manager", []string{
		"manager", "--provider", "none", "--http-addr", "127.0.0.1:0", "--nats-listen", "127.0.0.1:0",
		"--store", filepath.Join(t.TempDir(), "shoal.db"),
	}, []string{"SHOAL_CLUSTER_REPORT_INTERVAL=1s", "SHOAL_SEED_GROUP=g"})
	c := m.client

	smStartNode(t, m, "origin", "origin")
	origin := smWaitNodes(t, c, "g", "origin", "inservice", 1, 30*time.Second)[0]
	smStartNode(t, m, "edge-1", "edge")
	smStartNode(t, m, "edge-2", "edge")
	edges := smWaitNodes(t, c, "g", "edge", "inservice", 2, 30*time.Second)

	// The publisher asks where to publish, then publishes there.
	pub, err := c.Broadcast(ctx, "live", "stream1")
	if err != nil {
		t.Fatal(err)
	}
	if want := "rtmp://" + origin.RTMPAddr() + "/live/stream1"; pub.RTMPURL != want {
		t.Fatalf("broadcast answer %+v, want the origin %s", pub, want)
	}
	smPublish(t, "ffmpeg-publisher", pub.RTMPURL)

	// Once the origin has reported the stream, subscribers get edges; two
	// players in a row get the two edges (the manager counts the first as
	// pending load on its edge until that edge reports).
	var subs []smclient.Endpoint
	checkFor(t, 20*time.Second, 200*time.Millisecond, func() error {
		ep, err := c.Subscribe(ctx, "live", "stream1")
		if err != nil {
			return err
		}
		subs = append(subs[:0], ep)
		return nil
	})
	checkFor(t, 10*time.Second, 100*time.Millisecond, func() error {
		ep, err := c.Subscribe(ctx, "live", "stream1")
		if err != nil {
			return err
		}
		if ep.RTMPURL == subs[0].RTMPURL {
			return fmt.Errorf("second subscriber sent to the same edge %s", ep.RTMPURL)
		}
		subs = append(subs[:1], ep)
		return nil
	})
	for _, s := range subs {
		if !strings.Contains(s.RTMPURL, edges[0].RTMPAddr()) && !strings.Contains(s.RTMPURL, edges[1].RTMPAddr()) {
			t.Fatalf("subscribe answer %s is not an edge (%s, %s)", s.RTMPURL, edges[0].RTMPAddr(), edges[1].RTMPAddr())
		}
	}

	// Two ffmpeg players record what the edges send.
	ffmpeg, _ := exec.LookPath("ffmpeg")
	dir := t.TempDir()
	var files []string
	var players []*proc
	for i, s := range subs {
		out := filepath.Join(dir, fmt.Sprintf("player-%d.flv", i+1))
		files = append(files, out)
		players = append(players, startProc(t, fmt.Sprintf("ffmpeg-player-%d", i+1), ffmpeg, dir, []string{
			"-hide_banner", "-loglevel", "warning", "-nostdin", "-rw_timeout", "15000000",
			"-i", s.RTMPURL, "-map", "0", "-c", "copy", "-f", "flv", "-y", out,
		}, nil))
	}

	// The stream's stats count both players (the edges' pulls from the
	// origin are not subscribers).
	checkFor(t, 30*time.Second, 250*time.Millisecond, func() error {
		st, err := c.StreamStats(ctx, "live", "stream1")
		if err != nil {
			return err
		}
		if st.CurrentSubscribers != 2 || st.ServerAddress != origin.Address || st.StartTime == 0 {
			return fmt.Errorf("stream stats %+v, want 2 subscribers on origin %s", st, origin.Address)
		}
		return nil
	})

	// The relations map shows the origin with both edges relaying it.
	checkFor(t, 20*time.Second, 250*time.Millisecond, func() error {
		mp, err := c.NodeMap(ctx, "g", true)
		if err != nil {
			return err
		}
		lines := strings.Split(mp, "\n")
		var under []string
		for i, l := range lines {
			if strings.Contains(l, "ORIGIN "+origin.Identifier) {
				for _, l2 := range lines[i+1:] {
					if !strings.HasPrefix(l2, "    ") {
						break
					}
					under = append(under, strings.TrimSpace(l2))
				}
			}
		}
		for _, e := range edges {
			found := false
			for _, u := range under {
				if strings.HasPrefix(u, "EDGE "+e.Identifier) && strings.HasSuffix(u, "[ESTABLISHED]") {
					found = true
				}
			}
			if !found {
				return fmt.Errorf("relations map does not show edge %s established under origin %s:\n%s", e.Identifier, origin.Identifier, mp)
			}
		}
		return nil
	})

	// Let the players record a few seconds, stop them, and check what
	// they got.
	checkFor(t, 20*time.Second, 250*time.Millisecond, func() error {
		for _, f := range files {
			fi, err := os.Stat(f)
			if err != nil {
				return err
			}
			if fi.Size() < 128<<10 {
				return fmt.Errorf("%s has %d bytes, want 128 KiB", filepath.Base(f), fi.Size())
			}
		}
		return nil
	})
	for _, p := range players {
		smInterrupt(t, p)
	}
	for _, f := range files {
		codecs, err := smProbeCodecs(t, f)
		if err != nil {
			t.Fatal(err)
		}
		if codecs != "h264,aac" {
			t.Errorf("%s has codecs %q, want h264,aac", filepath.Base(f), codecs)
		}
	}

	// Without players, the stats go back to zero.
	checkFor(t, 15*time.Second, 250*time.Millisecond, func() error {
		st, err := c.StreamStats(ctx, "live", "stream1")
		if err != nil {
			return err
		}
		if st.CurrentSubscribers != 0 {
			return fmt.Errorf("stream stats %+v after the players left, want 0 subscribers", st)
		}
		return nil
	})
}
