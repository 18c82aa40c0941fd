package rtmptest

import (
	"testing"

	"github.com/shoal-live/shoal/internal/flv"
)

func TestStream(t *testing.T) {
	pkts := Stream(2, 25)
	if got, want := len(pkts), 2+2*25*2; got != want {
		t.Fatalf("len(Stream(2, 25)) = %d, want %d", got, want)
	}
	info, err := flv.ParseVideoInfo(pkts[0].Payload)
	if err != nil {
		t.Fatalf("ParseVideoInfo(sequence header): %v", err)
	}
	if info.Width != 16 || info.Height != 16 {
		t.Errorf("picture size = %dx%d, want 16x16", info.Width, info.Height)
	}
	if !pkts[0].SequenceHeader || !pkts[1].SequenceHeader {
		t.Errorf("first two packets are not sequence headers")
	}
	seen := make(map[string]bool)
	for i, p := range pkts[2:] {
		wantKey := p.Type == flv.PacketVideo && i%50 == 0
		if p.Keyframe != wantKey || p.SequenceHeader {
			t.Errorf("packet %d (type %d, ts %d): keyframe %v, sequence header %v; want keyframe %v",
				i+2, p.Type, p.Timestamp, p.Keyframe, p.SequenceHeader, wantKey)
		}
		if seen[string(p.Payload)] {
			t.Errorf("packet %d (type %d, ts %d) repeats an earlier payload", i+2, p.Type, p.Timestamp)
		}
		seen[string(p.Payload)] = true
	}
}

func TestFrameSizes(t *testing.T) {
	for _, size := range []int{0, 40, 800, 4000} {
		if got := len(AVCKeyframe(0, size).Payload); got < size {
			t.Errorf("len(AVCKeyframe(0, %d).Payload) = %d, want at least %d", size, got, size)
		}
		if got := len(AVCInterFrame(0, 1, size).Payload); got < size {
			t.Errorf("len(AVCInterFrame(0, 1, %d).Payload) = %d, want at least %d", size, got, size)
		}
	}
	for _, size := range []int{16, 24, 200, 280} {
		if got := len(AACFrame(0, size).Payload); got < size-1 || got > size+1 {
			t.Errorf("len(AACFrame(0, %d).Payload) = %d, want %d±1", size, got, size)
		}
	}
}
