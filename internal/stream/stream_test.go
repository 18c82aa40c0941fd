package stream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/shoal-live/shoal/internal/flv"
)

func TestStreamLateSubscriberStartsAtLastGOP(t *testing.T) {
	r := newTestRegistry(t, Config{})
	p := mustPublish(t, r, "live/a")
	defer p.Close()
	for _, pkt := range []*flv.Packet{
		metadata(0, metaSet), videoSeq(0, avcSeq1080), audioSeq(0),
		audio(5), keyframe(10, 100), audio(15), inter(20, 50),
		keyframe(30, 100), audio(35), inter(40, 50), flv.NewPacket(flv.PacketData, 41, mustHex("02000a6f6e437565506f696e74 0500")),
	} {
		p.WritePacket(pkt)
	}
	s := mustSubscribe(t, r, "live/a", false)
	got := readN(t, s, 6)
	want := []string{"M0", "S0", "T0", "K30", "A35", "V40"}
	if diff := cmp.Diff(want, describe(got)); diff != "" {
		t.Errorf("first packets of a late subscriber (-want +got):\n%s", diff)
	}
	if string(got[0].Payload) != string(metaBare) {
		t.Errorf("metadata = %x, want it without @setDataFrame: %x", got[0].Payload, metaBare)
	}
	p.WritePacket(inter(50, 50))
	if diff := cmp.Diff([]string{"V50"}, describe(readN(t, s, 1))); diff != "" {
		t.Errorf("live packets (-want +got):\n%s", diff)
	}
}

func TestStreamSubscriberWaitsForFirstKeyframe(t *testing.T) {
	r := newTestRegistry(t, Config{})
	p := mustPublish(t, r, "live/a")
	defer p.Close()
	p.WritePacket(videoSeq(0, avcSeq360))
	p.WritePacket(audioSeq(0))
	p.WritePacket(inter(10, 50)) // no keyframe yet: no GOP cached
	s := mustSubscribe(t, r, "live/a", false)
	for _, pkt := range []*flv.Packet{audio(15), inter(20, 50), keyframe(30, 100), audio(35), inter(40, 50)} {
		p.WritePacket(pkt)
	}
	got := readN(t, s, 6)
	want := []string{"S0", "T0", "A15", "K30", "A35", "V40"}
	if diff := cmp.Diff(want, describe(got)); diff != "" {
		t.Errorf("packets before the first keyframe (-want +got):\n%s", diff)
	}
	if s.Dropped() != 0 {
		t.Errorf("Dropped() = %d, want 0: waiting for a keyframe is not dropping", s.Dropped())
	}
}

func TestStreamGOPCacheBound(t *testing.T) {
	r := newTestRegistry(t, Config{GOPCacheMax: 1000})
	p := mustPublish(t, r, "live/a")
	defer p.Close()
	p.WritePacket(videoSeq(0, avcSeq360))
	p.WritePacket(keyframe(10, 600))
	p.WritePacket(inter(20, 600)) // outgrows the bound: the GOP is not cached
	s := mustSubscribe(t, r, "live/a", false)
	p.WritePacket(inter(30, 10))
	p.WritePacket(keyframe(40, 10))
	got := readN(t, s, 2)
	if diff := cmp.Diff([]string{"S0", "K40"}, describe(got)); diff != "" {
		t.Errorf("packets after an uncached GOP (-want +got):\n%s", diff)
	}
}

func TestStreamSlowSubscriberDropsUntilKeyframe(t *testing.T) {
	r := newTestRegistry(t, Config{QueuePackets: 8})
	p := mustPublish(t, r, "live/a")
	defer p.Close()
	s := mustSubscribe(t, r, "live/a", false)

	p.WritePacket(keyframe(0, 100))
	for i := range 9 {
		p.WritePacket(inter(uint32(10+i), 50)) // the queue takes 7 of them
	}
	got := readNow(t, s)
	want := []string{"K0", "V10", "V11", "V12", "V13", "V14", "V15", "V16"}
	if diff := cmp.Diff(want, describe(got)); diff != "" {
		t.Errorf("packets before the queue filled (-want +got):\n%s", diff)
	}
	// The queue is empty again, but the subscriber drops until a keyframe:
	// the inter frames it gets would not decode without the ones it lost.
	p.WritePacket(inter(30, 50))
	p.WritePacket(audio(31))
	p.WritePacket(videoSeq(32, avcSeq1080)) // never dropped
	p.WritePacket(inter(33, 50))
	p.WritePacket(keyframe(40, 100))
	p.WritePacket(audio(41))
	got = readNow(t, s)
	if diff := cmp.Diff([]string{"S32", "K40", "A41"}, describe(got)); diff != "" {
		t.Errorf("packets after the drop (-want +got):\n%s", diff)
	}
	if got, want := s.Dropped(), uint64(2+3); got != want {
		t.Errorf("Dropped() = %d, want %d", got, want)
	}
	if got := r.Stats().DroppedPackets; got != 5 {
		t.Errorf("Stats().DroppedPackets = %d, want 5", got)
	}
	if got := r.Streams()[0].Dropped; got != 5 {
		t.Errorf("Streams()[0].Dropped = %d, want 5", got)
	}
}

func TestStreamQueueByteBound(t *testing.T) {
	r := newTestRegistry(t, Config{QueueBytes: 1000})
	p := mustPublish(t, r, "live/a")
	defer p.Close()
	s := mustSubscribe(t, r, "live/a", false)
	p.WritePacket(keyframe(0, 5000)) // larger than the bound, but the queue is empty
	p.WritePacket(inter(10, 10))     // over the bound
	p.WritePacket(keyframe(20, 600))
	if diff := cmp.Diff([]string{"K0"}, describe(readNow(t, s))); diff != "" {
		t.Errorf("packets with a byte bound (-want +got):\n%s", diff)
	}
	p.WritePacket(keyframe(30, 600))
	p.WritePacket(inter(40, 500)) // 600+500 > 1000
	p.WritePacket(keyframe(50, 300))
	if diff := cmp.Diff([]string{"K30", "K50"}, describe(readNow(t, s))); diff != "" {
		t.Errorf("packets with a byte bound (-want +got):\n%s", diff)
	}
	if got := s.Dropped(); got != 3 {
		t.Errorf("Dropped() = %d, want 3", got)
	}
}

func TestStreamAudioOnlyDropsNewest(t *testing.T) {
	r := newTestRegistry(t, Config{QueuePackets: 8})
	p := mustPublish(t, r, "live/radio")
	defer p.Close()
	s := mustSubscribe(t, r, "live/radio", false)
	p.WritePacket(audioSeq(0))
	for i := range 10 {
		p.WritePacket(audio(uint32(10 + i)))
	}
	want := []string{"T0", "A10", "A11", "A12", "A13", "A14", "A15", "A16"}
	if diff := cmp.Diff(want, describe(readNow(t, s))); diff != "" {
		t.Errorf("audio-only packets (-want +got):\n%s", diff)
	}
	p.WritePacket(audio(30)) // no keyframe to wait for: audio resumes at once
	if diff := cmp.Diff([]string{"A30"}, describe(readNow(t, s))); diff != "" {
		t.Errorf("audio after the drop (-want +got):\n%s", diff)
	}
	if got := s.Dropped(); got != 3 {
		t.Errorf("Dropped() = %d, want 3", got)
	}
}

func TestStreamProtectedPacketsWhileDropping(t *testing.T) {
	r := newTestRegistry(t, Config{QueuePackets: 8})
	p := mustPublish(t, r, "live/a")
	defer p.Close()
	s := mustSubscribe(t, r, "live/a", false)
	var notices []Notice
	s.OnNotice(func(n Notice) { notices = append(notices, n) })
	p.WritePacket(keyframe(0, 10))
	for i := range 7 {
		p.WritePacket(inter(uint32(1+i), 10))
	}
	// The queue is full: sequence headers and metadata wait, the newest of
	// each kind only, however many come.
	for i := range 20 {
		p.WritePacket(videoSeq(uint32(100+i), avcSeq360))
		p.WritePacket(metadata(uint32(100+i), metaSet))
		p.WritePacket(audioSeq(uint32(100 + i)))
	}
	s.mu.Lock()
	pending := len(s.pending)
	s.mu.Unlock()
	if pending != 3 {
		t.Errorf("pending protected packets = %d, want 3", pending)
	}
	got := readN(t, s, 11)
	want := []string{"K0", "V1", "V2", "V3", "V4", "V5", "V6", "V7", "S119", "M119", "T119"}
	if diff := cmp.Diff(want, describe(got)); diff != "" {
		t.Errorf("packets (-want +got):\n%s", diff)
	}
	if len(notices) != 0 {
		t.Errorf("notices = %v, want none", notices)
	}
}

func TestStreamSequenceHeaderChange(t *testing.T) {
	r := newTestRegistry(t, Config{})
	p := mustPublish(t, r, "live/a")
	defer p.Close()
	s := mustSubscribe(t, r, "live/a", false)
	for _, pkt := range []*flv.Packet{
		videoSeq(0, avcSeq1080), audioSeq(0), keyframe(10, 100), inter(20, 50),
		videoSeq(30, avcSeq360), metadata(30, metaBare), keyframe(30, 100), inter(40, 50),
	} {
		p.WritePacket(pkt)
	}
	want := []string{"S0", "T0", "K10", "V20", "S30", "M30", "K30", "V40"}
	if diff := cmp.Diff(want, describe(readN(t, s, len(want)))); diff != "" {
		t.Errorf("packets of an attached subscriber (-want +got):\n%s", diff)
	}
	late := mustSubscribe(t, r, "live/a", false)
	got := readN(t, late, 5)
	if diff := cmp.Diff([]string{"M30", "S30", "T0", "K30", "V40"}, describe(got)); diff != "" {
		t.Errorf("packets of a late subscriber (-want +got):\n%s", diff)
	}
	if string(got[1].Payload) != string(avcSeq360) {
		t.Errorf("late subscriber got the old sequence header")
	}
	info := r.Streams()[0]
	if info.Width != 640 || info.Height != 360 || info.VideoCodec != flv.CodecH264 || info.AudioCodec != flv.CodecAAC {
		t.Errorf("Streams()[0] = %+v, want H264 640x360 and AAC", info)
	}
}

// TestStreamSlowSubscriberDoesNotBlockOthers runs a publisher, a subscriber
// that reads everything and one that never reads.
func TestStreamSlowSubscriberDoesNotBlockOthers(t *testing.T) {
	const (
		gops    = 50
		gopSize = 30
		total   = gops * gopSize
	)
	r := newTestRegistry(t, Config{QueuePackets: 64, PublisherGrace: -1})
	p := mustPublish(t, r, "live/a")
	fast := mustSubscribe(t, r, "live/a", false)
	slow := mustSubscribe(t, r, "live/a", false)

	var (
		wg      sync.WaitGroup
		read    atomic.Int64
		readErr error
		got     []uint32
	)
	wg.Go(func() {
		var buf []*flv.Packet
		for {
			var err error
			buf, err = fast.Read(t.Context(), buf[:0])
			for _, pkt := range buf {
				got = append(got, pkt.Timestamp)
			}
			read.Add(int64(len(buf)))
			if err != nil {
				if !errors.Is(err, io.EOF) {
					readErr = err
				}
				return
			}
		}
	})

	written := make(chan struct{})
	go func() {
		defer close(written)
		for g := range gops {
			for i := range gopSize {
				ts := uint32(g*gopSize + i)
				if i == 0 {
					p.WritePacket(keyframe(ts, 1000))
				} else {
					p.WritePacket(inter(ts, 200))
				}
			}
			// Pace by GOP so the fast subscriber's queue (64) never fills.
			for read.Load() < int64((g+1)*gopSize) && t.Context().Err() == nil {
				time.Sleep(time.Millisecond)
			}
		}
	}()
	select {
	case <-written:
	case <-time.After(30 * time.Second):
		t.Fatal("the publisher was blocked")
	}
	p.Close()
	wg.Wait()
	if readErr != nil {
		t.Fatalf("fast Read: %v", readErr)
	}
	if len(got) != total {
		t.Fatalf("fast subscriber got %d packets, want %d", len(got), total)
	}
	for i, ts := range got {
		if ts != uint32(i) {
			t.Fatalf("fast subscriber packet %d has timestamp %d, want %d", i, ts, i)
		}
	}
	if fast.Dropped() != 0 {
		t.Errorf("fast.Dropped() = %d, want 0", fast.Dropped())
	}
	queued := len(readNow(t, slow))
	if slow.Dropped() == 0 || uint64(queued)+slow.Dropped() != total {
		t.Errorf("slow subscriber: %d queued + %d dropped, want some dropped and %d in all", queued, slow.Dropped(), total)
	}
}

func TestRegistrySecondPublisher(t *testing.T) {
	r := newTestRegistry(t, Config{})
	p := mustPublish(t, r, "live/a")
	if _, err := r.Publish("live/a"); !errors.Is(err, ErrStreamTaken) {
		t.Fatalf("second Publish = %v, want ErrStreamTaken", err)
	}
	if _, err := r.Publish("live/b"); err != nil {
		t.Fatalf("Publish of another key: %v", err)
	}
	p.Close()
	p.Close() // idempotent
	p2 := mustPublish(t, r, "live/a")
	p.WritePacket(keyframe(0, 10)) // a closed publisher writes nothing
	if got := r.Streams()[0].PacketsIn; got != 0 {
		t.Errorf("PacketsIn after a write by a closed publisher = %d, want 0", got)
	}
	p2.Close()
}

func TestRegistrySubscribeWait(t *testing.T) {
	r := newTestRegistry(t, Config{})
	if _, err := r.Subscribe("live/a", false); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Subscribe(wait=false) of a missing stream = %v, want ErrNotFound", err)
	}
	s := mustSubscribe(t, r, "live/a", true)
	var notices []Notice
	s.OnNotice(func(n Notice) { notices = append(notices, n) })

	type result struct {
		pkts []*flv.Packet
		err  error
	}
	done := make(chan result)
	go func() {
		pkts, err := s.Read(t.Context(), nil)
		done <- result{pkts, err}
	}()
	p := mustPublish(t, r, "live/a")
	defer p.Close()
	p.WritePacket(videoSeq(0, avcSeq360))
	p.WritePacket(keyframe(0, 10))
	res := <-done
	if res.err != nil {
		t.Fatalf("Read: %v", res.err)
	}
	pkts := slices.Concat(res.pkts, readN(t, s, 2-len(res.pkts)))
	if diff := cmp.Diff([]string{"S0", "K0"}, describe(pkts)); diff != "" {
		t.Errorf("packets of a waiting subscriber (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]Notice{NoticePublish}, notices); diff != "" {
		t.Errorf("notices (-want +got):\n%s", diff)
	}
}

func TestStreamGraceReconnectKeepsSubscribers(t *testing.T) {
	checkNoLeak(t)
	synctest.Test(t, func(t *testing.T) {
		r := NewRegistry(Config{PublisherGrace: 5 * time.Second}, discardLogger())
		p := mustPublish(t, r, "live/a")
		p.WritePacket(videoSeq(0, avcSeq1080))
		p.WritePacket(keyframe(10, 10))
		s := mustSubscribe(t, r, "live/a", false)
		var (
			notices []string
			pkts    []*flv.Packet
		)
		// Read calls the notice handler before it appends packets that
		// follow the notice, so len(pkts) counts the packets before it.
		s.OnNotice(func(n Notice) { notices = append(notices, fmt.Sprintf("%v after %d packets", n, len(pkts))) })
		readTo := func(n int) {
			for len(pkts) < n {
				var err error
				if pkts, err = s.Read(t.Context(), pkts); err != nil {
					t.Fatalf("Read after %v: %v", describe(pkts), err)
				}
			}
		}
		p.WritePacket(inter(20, 10))
		p.Close()

		time.Sleep(3 * time.Second)
		p2 := mustPublish(t, r, "live/a")
		p2.WritePacket(inter(0, 10)) // before the new keyframe: skipped
		p2.WritePacket(videoSeq(0, avcSeq360))
		p2.WritePacket(keyframe(0, 10))
		time.Sleep(10 * time.Second) // far past the first grace period
		p2.WritePacket(inter(40, 10))
		readTo(6)
		// Rebased: the last timestamp (20) and the 3s without a publisher.
		want := []string{"S0", "K10", "V20", "S3020", "K3020", "V3060"}
		if diff := cmp.Diff(want, describe(pkts)); diff != "" {
			t.Errorf("packets across a reconnect (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"unpublish after 3 packets", "publish after 3 packets"}, notices); diff != "" {
			t.Errorf("notices (-want +got):\n%s", diff)
		}

		p2.Close()
		time.Sleep(4 * time.Second)
		if got := r.Stats().Subscribers; got != 1 {
			t.Errorf("subscribers within the grace period = %d, want 1", got)
		}
		time.Sleep(2 * time.Second)
		readToEOF(t, s)
		if got := r.Streams(); len(got) != 0 {
			t.Errorf("Streams() after the grace period = %+v, want none", got)
		}
		if diff := cmp.Diff([]string{"unpublish after 3 packets", "publish after 3 packets", "unpublish after 6 packets"}, notices); diff != "" {
			t.Errorf("notices (-want +got):\n%s", diff)
		}
	})
}

func TestStreamGraceExpiryKeepsWaitingSubscribers(t *testing.T) {
	checkNoLeak(t)
	synctest.Test(t, func(t *testing.T) {
		r := NewRegistry(Config{}, discardLogger())
		p := mustPublish(t, r, "live/a")
		live := mustSubscribe(t, r, "live/a", false)
		p.Close()
		if _, err := r.Subscribe("live/a", false); !errors.Is(err, ErrNotFound) {
			t.Errorf("Subscribe(wait=false) within the grace period = %v, want ErrNotFound", err)
		}
		waiting := mustSubscribe(t, r, "live/a", true)
		time.Sleep(DefaultPublisherGrace + time.Second)
		readToEOF(t, live)
		want := []Info{{Key: "live/a", Subscribers: 1}}
		if diff := cmp.Diff(want, r.Streams()); diff != "" {
			t.Errorf("Streams() after the grace period (-want +got):\n%s", diff)
		}
		p2 := mustPublish(t, r, "live/a")
		p2.WritePacket(keyframe(0, 10))
		if diff := cmp.Diff([]string{"K0"}, describe(readN(t, waiting, 1))); diff != "" {
			t.Errorf("packets of the waiting subscriber (-want +got):\n%s", diff)
		}
		p2.Close()
	})
}

func TestStreamNoGrace(t *testing.T) {
	r := newTestRegistry(t, Config{PublisherGrace: -1})
	p := mustPublish(t, r, "live/a")
	s := mustSubscribe(t, r, "live/a", false)
	p.WritePacket(keyframe(0, 10))
	p.Close()
	if diff := cmp.Diff([]string{"K0"}, describe(readToEOF(t, s))); diff != "" {
		t.Errorf("packets before EOF (-want +got):\n%s", diff)
	}
}

func TestRegistryEvents(t *testing.T) {
	checkNoLeak(t)
	synctest.Test(t, func(t *testing.T) {
		r := NewRegistry(Config{}, discardLogger())
		var (
			mu     sync.Mutex // events come from the grace timer too
			events []Event
		)
		r.OnChange(func(e Event) {
			mu.Lock()
			defer mu.Unlock()
			events = append(events, e)
		})
		p := mustPublish(t, r, "live/a")
		s1, _ := r.Subscribe("live/a", false)
		s2, _ := r.Subscribe("live/a", false)
		s1.Close()
		s1.Close()
		p.Close()
		time.Sleep(DefaultPublisherGrace + time.Second)
		s2.Close() // already ended: no event
		want := []Event{
			{Type: EventPublish, Key: "live/a", Publishing: true, Seq: 1},
			{Type: EventSubscribers, Key: "live/a", Publishing: true, Subscribers: 1, Seq: 2},
			{Type: EventSubscribers, Key: "live/a", Publishing: true, Subscribers: 2, Seq: 3},
			{Type: EventSubscribers, Key: "live/a", Publishing: true, Subscribers: 1, Seq: 4},
			{Type: EventUnpublish, Key: "live/a", Subscribers: 1, Seq: 5},
			{Type: EventRemove, Key: "live/a", Seq: 6},
		}
		mu.Lock()
		defer mu.Unlock()
		if diff := cmp.Diff(want, events); diff != "" {
			t.Errorf("events (-want +got):\n%s", diff)
		}
	})
}

func TestRegistryStats(t *testing.T) {
	r := newTestRegistry(t, Config{})
	p := mustPublish(t, r, "live/a")
	s := mustSubscribe(t, r, "live/a", false)
	p.WritePacket(videoSeq(0, avcSeq1080))
	p.WritePacket(keyframe(10, 100))
	readN(t, s, 2)
	in := uint64(len(avcSeq1080) + 100)
	want := Stats{Streams: 1, Publishers: 1, Subscribers: 1, BytesIn: in, PacketsIn: 2, BytesOut: in}
	if diff := cmp.Diff(want, r.Stats()); diff != "" {
		t.Errorf("Stats() (-want +got):\n%s", diff)
	}
	infos := r.Streams()
	wantInfo := []Info{{
		Key: "live/a", Publishing: true, Subscribers: 1, VideoCodec: flv.CodecH264,
		Width: 1920, Height: 1080, BytesIn: in, PacketsIn: 2,
	}}
	if diff := cmp.Diff(wantInfo, infos, cmpopts.IgnoreFields(Info{}, "StartedAt")); diff != "" {
		t.Errorf("Streams() (-want +got):\n%s", diff)
	}
	if infos[0].StartedAt.IsZero() {
		t.Errorf("Streams()[0].StartedAt is zero")
	}
	s.Close()
	p.Close()
	want = Stats{BytesIn: in, PacketsIn: 2, BytesOut: in}
	if diff := cmp.Diff(want, r.Stats()); diff != "" {
		t.Errorf("Stats() after the stream is gone (-want +got):\n%s", diff)
	}
}

func TestSubscriberCloseAndCancel(t *testing.T) {
	r := newTestRegistry(t, Config{})
	p := mustPublish(t, r, "live/a")
	defer p.Close()
	s := mustSubscribe(t, r, "live/a", false)

	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error)
	go func() {
		_, err := s.Read(ctx, nil)
		errc <- err
	}()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("Read with a cancelled context = %v, want context.Canceled", err)
	}

	go func() {
		_, err := s.Read(t.Context(), nil)
		errc <- err
	}()
	s.Close()
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Errorf("Read after Close = %v, want ErrClosed", err)
	}
	p.WritePacket(keyframe(0, 10)) // no subscriber left to deliver to
	if got := r.Stats().Subscribers; got != 0 {
		t.Errorf("Subscribers after Close = %d, want 0", got)
	}
}

func TestSubscriberPendingNotices(t *testing.T) {
	r := newTestRegistry(t, Config{QueuePackets: 8})
	s := mustSubscribe(t, r, "live/a", true)
	var notices []Notice
	s.OnNotice(func(n Notice) { notices = append(notices, n) })
	p := mustPublish(t, r, "live/a")
	for i := range 8 {
		p.WritePacket(audio(uint32(i))) // the publish notice and 7 packets fill the queue
	}
	// Publishers come and go while the subscriber does not read.
	for range 5 {
		p.Close()
		p = mustPublish(t, r, "live/a")
	}
	s.mu.Lock()
	pending := len(s.pending)
	s.mu.Unlock()
	if pending > 2 {
		t.Errorf("pending notices = %d, want at most 2", pending)
	}
	got := readNow(t, s)
	if diff := cmp.Diff([]string{"A0", "A1", "A2", "A3", "A4", "A5", "A6"}, describe(got)); diff != "" {
		t.Errorf("packets (-want +got):\n%s", diff)
	}
	defer p.Close()
	p.WritePacket(audio(100))
	if diff := cmp.Diff([]string{"A100"}, describe(readN(t, s, 1))); diff != "" {
		t.Errorf("packets after the churn (-want +got):\n%s", diff)
	}
	// The subscriber hears of the first publisher, then only that the
	// publisher left and that the current one came.
	if diff := cmp.Diff([]Notice{NoticePublish, NoticeUnpublish, NoticePublish}, notices); diff != "" {
		t.Errorf("notices (-want +got):\n%s", diff)
	}
}

// TestSubscriberWakesOnlyWhenWaiting checks that the publisher signals a
// subscriber only when its reader waits in Read with an empty queue: a
// reader that is busy (writing, or waiting out a merge window) is not
// woken for each packet, and finds them all at its next Read.
func TestSubscriberWakesOnlyWhenWaiting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newTestRegistry(t, Config{})
		p := mustPublish(t, r, "live/a")
		defer p.Close()
		s := mustSubscribe(t, r, "live/a", false)
		defer s.Close()

		// Nobody reads: no signal, however many packets.
		for i := range 10 {
			p.WritePacket(audio(uint32(i * 23)))
		}
		if n := len(s.notify); n != 0 {
			t.Errorf("notify holds %d signals with no reader waiting, want 0", n)
		}
		if got := readNow(t, s); len(got) != 10 {
			t.Fatalf("Read = %d packets, want 10", len(got))
		}

		// A reader parked on the empty queue is woken by the next packet.
		got := make(chan int)
		go func() {
			pkts, err := s.Read(t.Context(), nil)
			if err != nil {
				t.Errorf("Read: %v", err)
			}
			got <- len(pkts)
		}()
		synctest.Wait() // the reader is parked
		p.WritePacket(audio(230))
		p.WritePacket(audio(253))
		if n := <-got; n < 1 {
			t.Errorf("woken Read = %d packets, want at least 1", n)
		}
		if n := len(s.notify); n != 0 {
			t.Errorf("notify holds %d signals after the reader woke, want 0", n)
		}
	})
}
