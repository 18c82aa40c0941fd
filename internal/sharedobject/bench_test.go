package sharedobject

import (
	"fmt"
	"log/slog"
	"testing"

	"github.com/shoal-live/shoal/internal/rtmp/amf"
)

// countingListener counts the events delivered to it.
type countingListener struct{ events int }

func (l *countingListener) Deliver(_ ObjectID, _ uint64, events []Event) { l.events += len(events) }

// BenchmarkApply measures applying BallControl-like batches (one
// RequestChange of an {x, y} object from a client of another node) to one
// object with local listeners, each getting one Change per batch.
func BenchmarkApply(b *testing.B) {
	const distinct = 256
	recs := make([][]byte, distinct)
	for i := range recs {
		enc, err := amf.Marshal3(amf.Object{{Key: "x", Value: float64(i)}, {Key: "y", Value: 200.0}})
		if err != nil {
			b.Fatal(err)
		}
		bt := batch{node: "other", session: 1, req: uint64(i + 1), ops: []op{{kind: opSet, key: "ballCoordinates", value: enc}}}
		recs[i] = bt.appendTo(nil)
	}
	for _, n := range []int{1, 20} {
		b.Run(fmt.Sprintf("listeners=%d", n), func(b *testing.B) {
			m := New(Config{NodeID: "node", SnapshotEvery: -1}, nil, nil, slog.New(slog.DiscardHandler))
			o := newObject(m, ObjectID{Scope: "SOSample", Name: "BallControl"})
			ls := make([]*countingListener, n)
			for i := range ls {
				ls[i] = &countingListener{}
				o.listeners.add(ls[i], ConnInfo{})
			}
			b.ReportAllocs()
			seq := uint64(0)
			for b.Loop() {
				seq++
				o.onRecord(Record{Seq: seq, Data: recs[seq%distinct]})
			}
			events := 0
			for _, l := range ls {
				events += l.events
			}
			if events != int(seq)*n {
				b.Fatalf("delivered %d events, want %d", events, int(seq)*n)
			}
			b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(seq)/b.Elapsed().Seconds(), "batches/s")
		})
	}
}
