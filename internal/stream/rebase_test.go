package stream

import (
	"bytes"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/shoal-live/shoal/internal/flv"
)

// checkNonDecreasing fails the test if the timestamps of pkts step back,
// comparing them as 32-bit serial numbers like players do across a wrap.
func checkNonDecreasing(t *testing.T, pkts []*flv.Packet) {
	t.Helper()
	for i := 1; i < len(pkts); i++ {
		if d := int32(pkts[i].Timestamp - pkts[i-1].Timestamp); d < 0 {
			t.Errorf("timestamp steps back by %d ms at packet %d: %v", -d, i, describe(pkts))
			return
		}
	}
}

// TestStreamTakeoverRebasesTimestamps checks that a subscriber kept across
// a publisher takeover gets the new publisher's timestamps shifted past
// the old ones by the time without a publisher, and its metadata and
// sequence headers before its first frames.
func TestStreamTakeoverRebasesTimestamps(t *testing.T) {
	checkNoLeak(t)
	synctest.Test(t, func(t *testing.T) {
		r := NewRegistry(Config{}, discardLogger())
		p := mustPublish(t, r, "live/a")
		s := mustSubscribe(t, r, "live/a", false)
		var (
			notices []string
			pkts    []*flv.Packet
		)
		// Read calls the notice handler before it appends the packets
		// that follow the notice, so len(pkts) counts those before it.
		s.OnNotice(func(n Notice) { notices = append(notices, fmt.Sprintf("%v after %d packets", n, len(pkts))) })
		p.WritePacket(metadata(0, metaSet))
		p.WritePacket(videoSeq(0, avcSeq1080))
		p.WritePacket(audioSeq(0))
		p.WritePacket(keyframe(0, 10))
		p.WritePacket(audio(23))
		p.WritePacket(inter(40, 10))
		p.WritePacket(audio(46)) // the latest: audio counts too
		p.Close()

		time.Sleep(2 * time.Second)
		p2 := mustPublish(t, r, "live/a")
		defer p2.Close()
		// An encoder restarting with other parameters, from 0.
		p2.WritePacket(metadata(0, metaSet))
		p2.WritePacket(videoSeq(0, avcSeq360))
		p2.WritePacket(audioSeq(0))
		p2.WritePacket(audio(0))
		p2.WritePacket(keyframe(0, 10))
		p2.WritePacket(inter(40, 10))
		p2.WritePacket(audio(23))
		for len(pkts) < 14 {
			var err error
			if pkts, err = s.Read(t.Context(), pkts); err != nil {
				t.Fatalf("Read after %v: %v", describe(pkts), err)
			}
		}
		// 46 + 2000 ms without a publisher.
		want := []string{
			"M0", "S0", "T0", "K0", "A23", "V40", "A46",
			"M2046", "S2046", "T2046", "A2046", "K2046", "V2086", "A2069",
		}
		if diff := cmp.Diff(want, describe(pkts)); diff != "" {
			t.Errorf("packets across a takeover (-want +got):\n%s", diff)
		}
		if !bytes.Equal(pkts[8].Payload, avcSeq360) {
			t.Errorf("video sequence header after the takeover is not the new publisher's")
		}
		if diff := cmp.Diff([]string{"unpublish after 7 packets", "publish after 7 packets"}, notices); diff != "" {
			t.Errorf("notices (-want +got):\n%s", diff)
		}
		checkNonDecreasing(t, filterType(pkts, flv.PacketVideo))
		checkNonDecreasing(t, filterType(pkts, flv.PacketAudio))

		// A subscriber that comes later starts from the rebased caches.
		late := mustSubscribe(t, r, "live/a", false)
		want = []string{"M2046", "S2046", "T2046", "K2046", "V2086", "A2069"}
		if diff := cmp.Diff(want, describe(readN(t, late, len(want)))); diff != "" {
			t.Errorf("packets of a late subscriber (-want +got):\n%s", diff)
		}

		// A second takeover goes on from the rebased timestamps, at least
		// one frame later however soon it comes.
		p2.Close()
		p3 := mustPublish(t, r, "live/a")
		defer p3.Close()
		p3.WritePacket(keyframe(500, 10)) // an encoder that does not start at 0
		p3.WritePacket(inter(540, 10))
		if diff := cmp.Diff([]string{"K2119", "V2159"}, describe(readN(t, s, 2))); diff != "" {
			t.Errorf("packets after a second takeover (-want +got):\n%s", diff)
		}
	})
}

func filterType(pkts []*flv.Packet, typ flv.PacketType) []*flv.Packet {
	var out []*flv.Packet
	for _, p := range pkts {
		if p.Type == typ {
			out = append(out, p)
		}
	}
	return out
}

// TestStreamTakeoverFromLargeTimestamps checks a new publisher whose
// metadata and sequence headers come at 0 and its frames far later (an
// edge relay that reconnects to its origin gets the origin's caches so):
// its first frame, not its first packet, fixes the offset.
func TestStreamTakeoverFromLargeTimestamps(t *testing.T) {
	checkNoLeak(t)
	synctest.Test(t, func(t *testing.T) {
		r := NewRegistry(Config{}, discardLogger())
		p := mustPublish(t, r, "live/a")
		s := mustSubscribe(t, r, "live/a", false)
		p.WritePacket(keyframe(3_600_000, 10))
		p.Close()
		time.Sleep(100 * time.Millisecond)
		p2 := mustPublish(t, r, "live/a")
		defer p2.Close()
		p2.WritePacket(metadata(0, metaBare))
		p2.WritePacket(videoSeq(0, avcSeq1080))
		p2.WritePacket(keyframe(3_599_000, 10))
		p2.WritePacket(inter(3_599_040, 10))
		want := []string{"K3600000", "M3600100", "S3600100", "K3600100", "V3600140"}
		if diff := cmp.Diff(want, describe(readN(t, s, len(want)))); diff != "" {
			t.Errorf("packets (-want +got):\n%s", diff)
		}
	})
}

// TestStreamTakeoverAheadKeepsTimestamps checks that a new publisher whose
// first frame comes after where rebasing would put it keeps its
// timestamps; what it sent before the frame is not sent back in time.
func TestStreamTakeoverAheadKeepsTimestamps(t *testing.T) {
	checkNoLeak(t)
	synctest.Test(t, func(t *testing.T) {
		r := NewRegistry(Config{}, discardLogger())
		p := mustPublish(t, r, "live/a")
		s := mustSubscribe(t, r, "live/a", false)
		p.WritePacket(keyframe(40, 10))
		p.Close()
		time.Sleep(time.Second)
		p2 := mustPublish(t, r, "live/a")
		defer p2.Close()
		p2.WritePacket(videoSeq(0, avcSeq1080))
		p2.WritePacket(keyframe(1_000_000, 10))
		p2.WritePacket(inter(1_000_040, 10))
		want := []string{"K40", "S1040", "K1000000", "V1000040"}
		if diff := cmp.Diff(want, describe(readN(t, s, len(want)))); diff != "" {
			t.Errorf("packets (-want +got):\n%s", diff)
		}
	})
}

// TestStreamFreshPublishNotRebased checks that a publisher that takes over
// no subscribers of another keeps its timestamps.
func TestStreamFreshPublishNotRebased(t *testing.T) {
	checkNoLeak(t)
	synctest.Test(t, func(t *testing.T) {
		r := NewRegistry(Config{PublisherGrace: time.Second}, discardLogger())

		// No subscribers: the stream goes away with its publisher.
		p := mustPublish(t, r, "live/a")
		p.WritePacket(keyframe(5000, 10))
		p.Close()
		p = mustPublish(t, r, "live/a")
		s := mustSubscribe(t, r, "live/a", false)
		p.WritePacket(keyframe(0, 10))
		if diff := cmp.Diff([]string{"K0"}, describe(readN(t, s, 1))); diff != "" {
			t.Errorf("packets after a publisher without subscribers (-want +got):\n%s", diff)
		}

		// The grace period ran out: only a subscriber that never saw a
		// publisher is left.
		p.WritePacket(inter(5000, 10))
		p.Close()
		waiting := mustSubscribe(t, r, "live/a", true)
		time.Sleep(2 * time.Second)
		readToEOF(t, s)
		p = mustPublish(t, r, "live/a")
		defer p.Close()
		p.WritePacket(keyframe(0, 10))
		if diff := cmp.Diff([]string{"K0"}, describe(readN(t, waiting, 1))); diff != "" {
			t.Errorf("packets after the grace period (-want +got):\n%s", diff)
		}
	})
}

// TestStreamTakeoverWraps checks rebasing at the end of the 32-bit
// timestamp range: the latest timestamp is found across a wrap, the
// offset wraps, and "ahead" is judged across the wrap.
func TestStreamTakeoverWraps(t *testing.T) {
	const top = 1 << 32
	tests := []struct {
		name  string
		old   []uint32 // timestamps of the first publisher's audio
		first uint32   // of the second publisher's keyframe, followed by a frame 40 ms later
		want  []string // what they become
	}{
		{"offset wraps", []uint32{top - 100, top - 77, top - 54}, 3_000_000_000, []string{"K4294967275", "V19"}},
		{"old publisher wrapped", []uint32{top - 30, top - 7, 16}, 0, []string{"K49", "V89"}},
		// 0 is 21 ms past where rebasing would put it: kept.
		{"new publisher after the wrap", []uint32{top - 100, top - 77, top - 54}, 0, []string{"K0", "V40"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkNoLeak(t)
			synctest.Test(t, func(t *testing.T) {
				r := NewRegistry(Config{}, discardLogger())
				p := mustPublish(t, r, "live/a")
				s := mustSubscribe(t, r, "live/a", false)
				for _, ts := range tt.old {
					p.WritePacket(audio(ts))
				}
				p.Close()
				p2 := mustPublish(t, r, "live/a")
				defer p2.Close()
				p2.WritePacket(keyframe(tt.first, 10))
				p2.WritePacket(inter(tt.first+40, 10))
				pkts := readN(t, s, len(tt.old)+2)
				if diff := cmp.Diff(tt.want, describe(pkts[len(tt.old):])); diff != "" {
					t.Errorf("rebased packets (-want +got):\n%s", diff)
				}
				checkNonDecreasing(t, pkts)
			})
		})
	}
}

// TestStreamRebasedWriteAllocatesNothing checks that rebasing keeps
// WritePacket free of allocations: timestamps are set in place.
func TestStreamRebasedWriteAllocatesNothing(t *testing.T) {
	checkNoLeak(t)
	synctest.Test(t, func(t *testing.T) {
		r := NewRegistry(Config{}, discardLogger())
		p := mustPublish(t, r, "live/a")
		s := mustSubscribe(t, r, "live/a", false)
		p.WritePacket(keyframe(1000, 10))
		p.Close()
		p = mustPublish(t, r, "live/a")
		defer p.Close()
		const runs = 100
		pkts := make([]*flv.Packet, runs+1) // AllocsPerRun runs once more to warm up
		for i := range pkts {
			pkts[i] = audio(uint32(i * 23))
		}
		p.WritePacket(keyframe(0, 10)) // fixes the offset: 1000 + 33
		buf := readN(t, s, 2)[:0]      // the old keyframe and the new one
		next := 0
		allocs := testing.AllocsPerRun(runs, func() {
			p.WritePacket(pkts[next])
			next++
			var err error
			if buf, err = s.Read(t.Context(), buf[:0]); err != nil || len(buf) != 1 {
				t.Fatalf("Read = %v, %v; want one packet", describe(buf), err)
			}
		})
		if allocs != 0 {
			t.Errorf("WritePacket and Read of a rebased stream: %v allocations, want 0", allocs)
		}
		if got, want := pkts[runs].Timestamp, uint32(1000+33+runs*23); got != want {
			t.Errorf("last packet at %d ms, want it rebased to %d", got, want)
		}
	})
}
