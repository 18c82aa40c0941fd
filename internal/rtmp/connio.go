package rtmp

import (
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"
)

// connIO is a connection's byte stream for the handshake and the chunk
// reader. It counts bytes and, once idle is set, calls ping after idle/2
// without input and fails the read after idle.
type connIO struct {
	nc      net.Conn
	in, out *atomic.Uint64 // byte counters, may be nil
	ping    func() error
	idle    time.Duration
	pinged  bool
}

// Read implements io.Reader.
func (r *connIO) Read(p []byte) (int, error) {
	for {
		if r.idle > 0 {
			_ = r.nc.SetReadDeadline(time.Now().Add(r.idle / 2))
		}
		n, err := r.nc.Read(p)
		if n > 0 {
			r.pinged = false
			if r.in != nil {
				r.in.Add(uint64(n))
			}
			return n, err
		}
		var ne net.Error
		if r.idle > 0 && errors.As(err, &ne) && ne.Timeout() {
			if r.pinged {
				return 0, fmt.Errorf("nothing received for %v: %w", r.idle, err)
			}
			r.pinged = true
			if r.ping != nil {
				if err := r.ping(); err != nil {
					return 0, err
				}
			}
			continue
		}
		return n, err
	}
}

// Write implements io.Writer for the handshake.
func (r *connIO) Write(p []byte) (int, error) {
	n, err := r.nc.Write(p)
	if r.out != nil {
		r.out.Add(uint64(n))
	}
	return n, err
}
