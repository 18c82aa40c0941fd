package rtmp_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/shoal-live/shoal/internal/rtmp"
)

// serverConnOf waits for the one connection of reg.
func serverConnOf(t *testing.T, reg *registry) *rtmp.ServerConn {
	t.Helper()
	var sc *rtmp.ServerConn
	checkFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		reg.mu.Lock()
		defer reg.mu.Unlock()
		for c := range reg.mu.conns {
			sc = c
		}
		if sc == nil {
			return errors.New("no connection in the handler")
		}
		return nil
	})
	return sc
}

// TestRTMPSendQueueBurst queues a burst of small shared-object messages
// far faster than any socket drains them, as applying a backlog does: a
// client that reads gets them all, in order, and keeps its connection.
func TestRTMPSendQueueBurst(t *testing.T) {
	const n = 20000
	for _, oe := range []float64{0, 3} {
		t.Run(fmt.Sprintf("objectEncoding %v", oe), func(t *testing.T) {
			reg := newRegistry()
			addr, _ := startServer(t, reg)
			c := dial(t, addr, "live", rtmp.ClientOptions{ObjectEncoding: oe})
			var mu sync.Mutex
			var got []uint32
			c.OnSharedObject(func(body []byte) {
				mu.Lock()
				defer mu.Unlock()
				got = append(got, binary.BigEndian.Uint32(body))
			})
			sc := serverConnOf(t, reg)
			body := make([]byte, 40)
			for i := range n {
				b := binary.BigEndian.AppendUint32(nil, uint32(i))
				if err := sc.SendSharedObject(append(b, body...)); err != nil {
					t.Fatalf("SendSharedObject(%d): %v", i, err)
				}
			}
			checkFor(t, 10*time.Second, 10*time.Millisecond, func() error {
				mu.Lock()
				defer mu.Unlock()
				if len(got) < n {
					return fmt.Errorf("got %d of %d messages", len(got), n)
				}
				return nil
			})
			mu.Lock()
			defer mu.Unlock()
			for i, v := range got {
				if v != uint32(i) {
					t.Fatalf("message %d carries %d: out of order", i, v)
				}
			}
			if len(got) != n {
				t.Errorf("got %d messages, want %d", len(got), n)
			}
		})
	}
}

// TestRTMPSendQueueBytes closes a client that does not read once its
// queue reaches Server.SendQueueBytes.
func TestRTMPSendQueueBytes(t *testing.T) {
	reg := newRegistry()
	addr, _ := startServer(t, reg, func(s *rtmp.Server) { s.SendQueueBytes = 64 << 10 })
	rc := dialRaw(t, addr)
	rc.connect("live", 0)
	sc := serverConnOf(t, reg)
	body := make([]byte, 1000)
	var err error
	sent := 0
	for ; sent < 100000 && err == nil; sent++ {
		err = sc.SendSharedObject(body)
	}
	if !errors.Is(err, rtmp.ErrSendQueueFull) {
		t.Fatalf("SendSharedObject to a client that does not read = %v, want ErrSendQueueFull", err)
	}
	// 64 KiB queued plus what the socket buffers hold (a few MB at most).
	if sent > 10000 {
		t.Errorf("the queue took %d messages of 1000 bytes with SendQueueBytes 64 KiB", sent)
	}
}
