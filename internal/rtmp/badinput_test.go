package rtmp_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/shoal-live/shoal/internal/flv"
	"github.com/shoal-live/shoal/internal/rtmp"
	"github.com/shoal-live/shoal/internal/rtmp/chunk"
	"github.com/shoal-live/shoal/internal/rtmp/message"
	"github.com/shoal-live/shoal/internal/rtmp/rtmptest"
)

// fmt0Chunk builds a fmt 0 chunk header for a message of length bytes.
func fmt0Chunk(csid byte, length int, typeID uint8) []byte {
	return []byte{csid, 0, 0, 0, byte(length >> 16), byte(length >> 8), byte(length), typeID, 0, 0, 0, 0}
}

// deepAMF returns a connect command whose command object nests depth
// objects.
func deepAMF(depth int) []byte {
	var b bytes.Buffer
	b.Write([]byte{0x02, 0, 7})
	b.WriteString("connect")
	b.Write([]byte{0x00, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0}) // 1.0
	for range depth {
		b.Write([]byte{0x03, 0, 1, 'a'})
	}
	b.WriteByte(0x05)
	for range depth {
		b.Write([]byte{0, 0, 0x09})
	}
	return b.Bytes()
}

var badInputCases = []struct {
	name      string
	handshake bool // do the handshake first
	send      func(t *testing.T, rc *rawClient)
}{
	{
		name: "garbage handshake",
		send: func(t *testing.T, rc *rawClient) {
			rc.writeRaw(t, append([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), make([]byte, 1600)...))
		},
	},
	{
		name:      "chunk size 0",
		handshake: true,
		send: func(t *testing.T, rc *rawClient) {
			rc.writeRaw(t, append(fmt0Chunk(2, 4, message.TypeSetChunkSize), 0, 0, 0, 0))
		},
	},
	{
		name:      "chunk size 1 GiB",
		handshake: true,
		send: func(t *testing.T, rc *rawClient) {
			rc.writeRaw(t, append(fmt0Chunk(2, 4, message.TypeSetChunkSize), 0x40, 0, 0, 0))
		},
	},
	{
		// The 24-bit length field cannot declare 1 GiB; 16 MiB is the most
		// a header can claim, beyond the default 8 MiB limit.
		name:      "16 MiB declared message",
		handshake: true,
		send: func(t *testing.T, rc *rawClient) {
			rc.writeRaw(t, append(fmt0Chunk(3, 0xFFFFFF, message.TypeCommandAMF0), make([]byte, 128)...))
		},
	},
	{
		name:      "10000-deep AMF nesting",
		handshake: true,
		send: func(t *testing.T, rc *rawClient) {
			if err := rc.rw.WriteChunk(&chunk.Message{ChunkStreamID: 3, TypeID: message.TypeCommandAMF0, Body: deepAMF(10000)}); err != nil {
				t.Fatalf("write deep AMF: %v", err)
			}
		},
	},
	{
		name:      "truncated AMF",
		handshake: true,
		send: func(t *testing.T, rc *rawClient) {
			body := []byte{0x02, 0, 7, 'c', 'o', 'n'}
			rc.writeRaw(t, append(fmt0Chunk(3, len(body), message.TypeCommandAMF0), body...))
		},
	},
	{
		name:      "fmt 3 chunk without header",
		handshake: true,
		send: func(t *testing.T, rc *rawClient) {
			rc.writeRaw(t, []byte{0xc5, 1, 2, 3})
		},
	},
	{
		name:      "publish before connect",
		handshake: true,
		send: func(t *testing.T, rc *rawClient) {
			rc.write(&message.CommandAMF0{StreamID: 1, Name: "publish", Args: []any{"x", "live"}})
		},
	},
	{
		name:      "malformed aggregate",
		handshake: true,
		send: func(t *testing.T, rc *rawClient) {
			rc.connect("live", 0)
			body := []byte{9, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 1}
			rc.writeRaw(t, append(fmt0Chunk(4, len(body), message.TypeAggregate), body...))
		},
	},
}

// writeRaw sends bytes as they are.
func (c *rawClient) writeRaw(t *testing.T, b []byte) {
	t.Helper()
	if _, err := c.nc.Write(b); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// TestRTMPBadInput sends each kind of bad input on its own connection and
// checks that exactly that connection is closed, with one warning naming
// it, while a player on the same server keeps receiving.
func TestRTMPBadInput(t *testing.T) {
	reg := newRegistry()
	addr, logs := startServer(t, reg)
	pub := publishStream(t, addr, "live", "cam")
	writeAll(t, pub, rtmptest.Stream(1, 1))
	pl := dial(t, addr, "live", rtmp.ClientOptions{})
	if err := pl.Play(t.Context(), "cam"); err != nil {
		t.Fatalf("Play: %v", err)
	}
	readPackets(t, pl, 4) // headers, keyframe, audio

	for i, tc := range badInputCases {
		t.Run(tc.name, func(t *testing.T) {
			var rc *rawClient
			if tc.handshake {
				rc = dialRaw(t, addr)
			} else {
				rc = dialTCP(t, addr)
			}
			tc.send(t, rc)
			if err := rc.waitClosed(5 * time.Second); err != nil {
				t.Fatalf("bad connection: %v", err)
			}
			local := rc.nc.LocalAddr().String()
			checkFor(t, 5*time.Second, 10*time.Millisecond, func() error {
				if got := logs.find(slog.LevelWarn, "connection closed", "remote_addr", local); len(got) != 1 {
					return fmt.Errorf("warnings for %s = %q, want exactly one", local, got)
				}
				return nil
			})

			// The player on the same server still gets new packets.
			p := rtmptest.AVCInterFrame(uint32(1000+40*i), i+1, 300)
			writeAll(t, pub, []*flv.Packet{p})
			got := readPackets(t, pl, 1)
			if !bytes.Equal(got[0].Payload, p.Payload) {
				t.Fatalf("player got payload %x, want %x", got[0].Payload[:8], p.Payload[:8])
			}
		})
	}
}
