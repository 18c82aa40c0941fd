package handshake

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
)

// pipe is a scripted peer: reads come from in, writes go to out.
type pipe struct {
	in  *bytes.Reader
	out bytes.Buffer
}

func (p *pipe) Read(b []byte) (int, error)  { return p.in.Read(b) }
func (p *pipe) Write(b []byte) (int, error) { return p.out.Write(b) }

// fixedRandom is a deterministic random source.
func fixedRandom(seed uint64) io.Reader {
	return rand.NewChaCha8([32]byte{byte(seed)})
}

// hmacSHA256 is the reference HMAC the tests check digests with.
func hmacSHA256(key []byte, parts ...[]byte) []byte {
	h := hmac.New(sha256.New, key)
	for _, p := range parts {
		h.Write(p)
	}
	return h.Sum(nil)
}

// ffmpegC0C1 is C0+C1 as ffmpeg 5 sent it to `ffmpeg -i rtmp://...`: version
// 9.0.124.2 and a digest placed by the offset bytes at 8..11.
func ffmpegC0C1(tb testing.TB) []byte {
	tb.Helper()
	b, err := os.ReadFile("testdata/ffmpeg_c0c1.bin")
	if err != nil {
		tb.Fatal(err)
	}
	if len(b) != 1+PacketSize {
		tb.Fatalf("testdata/ffmpeg_c0c1.bin has %d bytes, want %d", len(b), 1+PacketSize)
	}
	return b
}

// TestServer_FFmpegVector answers ffmpeg's real C1 and checks S1 and S2 the
// way ffmpeg's client does.
func TestServer_FFmpegVector(t *testing.T) {
	c0c1 := ffmpegC0C1(t)
	c1 := c0c1[1:]

	// The vector's digest is where scheme 0 says, signed with the
	// 30-byte Flash Player key.
	off := (int(c1[8])+int(c1[9])+int(c1[10])+int(c1[11]))%728 + 12
	want := hmacSHA256([]byte("Genuine Adobe Flash Player 001"), c1[:off], c1[off+32:])
	if !bytes.Equal(c1[off:off+32], want) {
		t.Fatalf("vector digest at %d does not verify: the test data or the key is wrong", off)
	}
	if got := findDigest(c1, fpKey[:fpKeyShort], 0, 1); got != off {
		t.Fatalf("findDigest = %d, want %d", got, off)
	}

	p := &pipe{in: bytes.NewReader(append(c0c1, make([]byte, PacketSize)...))}
	if err := server(p, fixedRandom(1)); err != nil {
		t.Fatalf("server: %v", err)
	}
	out := p.out.Bytes()
	if len(out) != 1+2*PacketSize {
		t.Fatalf("server wrote %d bytes, want %d", len(out), 1+2*PacketSize)
	}
	if out[0] != Version {
		t.Errorf("S0 = %d, want %d", out[0], Version)
	}
	s1, s2 := out[1:1+PacketSize], out[1+PacketSize:]
	if s1[4] < 3 {
		t.Errorf("S1 version byte = %d: ffmpeg only checks digests from servers with version >= 3", s1[4])
	}
	// ffmpeg looks for the server digest with the 36-byte FMS key.
	fms := []byte("Genuine Adobe Flash Media Server 001")
	soff := (int(s1[8])+int(s1[9])+int(s1[10])+int(s1[11]))%728 + 12
	if !bytes.Equal(s1[soff:soff+32], hmacSHA256(fms, s1[:soff], s1[soff+32:])) {
		t.Errorf("S1 digest at %d does not verify with the FMS key", soff)
	}
	// S2 is signed with HMAC(full FMS key, client digest).
	key := hmacSHA256(fmsKey, c1[off:off+32])
	if !bytes.Equal(s2[PacketSize-32:], hmacSHA256(key, s2[:PacketSize-32])) {
		t.Errorf("S2 signature does not verify")
	}
}

func TestServer_SimpleClient(t *testing.T) {
	c1 := make([]byte, PacketSize) // version 0: simple handshake
	_, _ = io.ReadFull(fixedRandom(2), c1[8:])
	c1[0], c1[1], c1[2], c1[3] = 0, 0, 1, 2
	c0c1 := append([]byte{Version}, c1...)
	p := &pipe{in: bytes.NewReader(append(c0c1, make([]byte, PacketSize)...))}
	if err := server(p, fixedRandom(3)); err != nil {
		t.Fatalf("server: %v", err)
	}
	out := p.out.Bytes()
	s1, s2 := out[1:1+PacketSize], out[1+PacketSize:]
	if !bytes.Equal(s1[4:8], []byte{0, 0, 0, 0}) {
		t.Errorf("S1 version = %x, want zero for a simple client", s1[4:8])
	}
	if !bytes.Equal(s2, c1) {
		t.Errorf("S2 is not an echo of C1")
	}
}

func TestServer_VersionWithoutDigest(t *testing.T) {
	// A non-zero version but random bytes where the digest would be: the
	// server falls back to the simple handshake.
	c1 := make([]byte, PacketSize)
	_, _ = io.ReadFull(fixedRandom(4), c1)
	copy(c1[4:], []byte{10, 0, 32, 18})
	p := &pipe{in: bytes.NewReader(append(append([]byte{Version}, c1...), make([]byte, PacketSize)...))}
	if err := server(p, fixedRandom(5)); err != nil {
		t.Fatalf("server: %v", err)
	}
	if s2 := p.out.Bytes()[1+PacketSize:]; !bytes.Equal(s2, c1) {
		t.Errorf("S2 is not an echo of C1")
	}
}

func TestServer_Scheme1Client(t *testing.T) {
	// librtmp with an FP10 version places its digest with scheme 1; the
	// server answers with the same scheme.
	c1 := make([]byte, PacketSize)
	_, _ = io.ReadFull(fixedRandom(6), c1)
	copy(c1[:8], []byte{0, 0, 0, 0, 128, 0, 3, 2})
	off := imprintDigest(c1, schemes[1], fpKey[:fpKeyShort])
	p := &pipe{in: bytes.NewReader(append(append([]byte{Version}, c1...), make([]byte, PacketSize)...))}
	if err := server(p, fixedRandom(7)); err != nil {
		t.Fatalf("server: %v", err)
	}
	out := p.out.Bytes()
	s1, s2 := out[1:1+PacketSize], out[1+PacketSize:]
	if got := findDigest(s1, fmsKey[:fmsKeyShort], 1); got < 0 {
		t.Errorf("S1 has no scheme 1 digest")
	}
	if !bytes.Equal(s2[signatureAt:], signature(s2, c1[off:off+digestSize], fmsKey)) {
		t.Errorf("S2 signature does not verify")
	}
}

// TestServerClient runs Server and Client against each other over TCP
// (net.Pipe has no buffer, and both sides write a packet before reading the
// one the other wrote, as real peers do).
func TestServerClient(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	errc := make(chan error, 1)
	var read int
	go func() {
		sc, err := ln.Accept()
		if err != nil {
			errc <- err
			return
		}
		defer sc.Close()
		counted := &countingConn{Conn: sc}
		err = Server(counted)
		read = counted.n
		errc <- err
	}()
	cc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	if err := Client(cc); err != nil {
		t.Fatalf("Client: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("Server: %v", err)
	}
	if read != 1+2*PacketSize {
		t.Errorf("Server read %d bytes, want exactly %d", read, 1+2*PacketSize)
	}
}

type countingConn struct {
	net.Conn
	n int
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n += n
	return n, err
}

// runClient runs Client against a scripted server that answers C1 with the
// S0, S1 and S2 that reply makes.
func runClient(t *testing.T, reply func(c1 []byte) []byte) error {
	t.Helper()
	cc, sc := net.Pipe()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer sc.Close()
	defer cc.Close()
	wg.Go(func() {
		c0c1 := make([]byte, 1+PacketSize)
		if _, err := io.ReadFull(sc, c0c1); err != nil {
			return
		}
		out := reply(c0c1[1:])
		// Drain C2 while S0..S2 are written: net.Pipe writes block.
		wg.Go(func() { _, _ = io.Copy(io.Discard, sc) })
		_, _ = sc.Write(out)
		// Everything written was read, C2 included when the client sent
		// one: closing now turns a short reply into EOF for the client.
		sc.Close()
	})
	return Client(cc)
}

func TestClient(t *testing.T) {
	tests := []struct {
		name    string
		reply   func(c1 []byte) []byte
		wantErr string // "" for success
	}{
		{
			name: "simple server echoes C1",
			reply: func(c1 []byte) []byte {
				return bytes.Join([][]byte{{Version}, make([]byte, PacketSize), c1}, nil)
			},
		},
		{
			name: "digest server",
			reply: func(c1 []byte) []byte {
				p := &pipe{in: bytes.NewReader(append(append([]byte{Version}, c1...), make([]byte, PacketSize)...))}
				if err := server(p, fixedRandom(8)); err != nil {
					panic(err)
				}
				return p.out.Bytes()
			},
		},
		{
			name: "digest server echoing C1 in S2",
			reply: func(c1 []byte) []byte {
				s1 := make([]byte, PacketSize)
				copy(s1[4:], serverVersion[:])
				imprintDigest(s1, schemes[0], fmsKey[:fmsKeyShort])
				return bytes.Join([][]byte{{Version}, s1, c1}, nil)
			},
		},
		{
			name: "digest server with a bad S2",
			reply: func(c1 []byte) []byte {
				s1 := make([]byte, PacketSize)
				copy(s1[4:], serverVersion[:])
				imprintDigest(s1, schemes[1], fmsKey[:fmsKeyShort])
				return bytes.Join([][]byte{{Version}, s1, make([]byte, PacketSize)}, nil)
			},
			wantErr: "handshake: S2: signature does not match",
		},
		{
			name: "server with version but no digest",
			reply: func(c1 []byte) []byte {
				s1 := bytes.Repeat([]byte{7}, PacketSize)
				return bytes.Join([][]byte{{Version}, s1, make([]byte, PacketSize)}, nil)
			},
		},
		{
			name:    "bad S0",
			reply:   func([]byte) []byte { return []byte("HTTP/1.1 400 Bad Request\r\n\r\n") },
			wantErr: "handshake: unsupported version 0x48 in S0",
		},
		{
			name:    "short S1",
			reply:   func([]byte) []byte { return []byte{Version, 0, 0} },
			wantErr: "handshake: read S1: unexpected EOF",
		},
		{
			name: "short S2",
			reply: func(c1 []byte) []byte {
				return bytes.Join([][]byte{{Version}, make([]byte, PacketSize), c1[:100]}, nil)
			},
			wantErr: "handshake: read S2: unexpected EOF",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := runClient(t, tc.reply)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("Client = %v, want success", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("Client = %v, want error containing %q", err, tc.wantErr)
			}
		})
	}
}

// serverCases are inputs a server may get; they double as fuzz seeds.
var serverCases = []struct {
	name    string
	in      []byte
	wantErr string // "" for success
	is      error
}{
	{name: "empty", in: nil, wantErr: "handshake: read C0: unexpected EOF", is: io.ErrUnexpectedEOF},
	{
		name:    "HTTP request",
		in:      []byte("GET / HTTP/1.1\r\nHost: example\r\n\r\n"),
		wantErr: "handshake: unsupported version 0x47 in C0",
		is:      ErrUnsupportedVersion,
	},
	{
		name:    "TLS client hello",
		in:      []byte{0x16, 0x03, 0x01, 0x02, 0x00},
		wantErr: "handshake: unsupported version 0x16 in C0 (TLS",
		is:      ErrUnsupportedVersion,
	},
	{
		name:    "RTMPE",
		in:      append([]byte{6}, make([]byte, PacketSize)...),
		wantErr: "handshake: unsupported version 0x06 in C0 (encrypted RTMPE)",
		is:      ErrUnsupportedVersion,
	},
	{name: "version 0", in: []byte{0}, wantErr: "unsupported version 0x00", is: ErrUnsupportedVersion},
	{name: "short C1", in: append([]byte{Version}, make([]byte, 1000)...), wantErr: "handshake: read C1: unexpected EOF", is: io.ErrUnexpectedEOF},
	{name: "no C2", in: append([]byte{Version}, make([]byte, PacketSize)...), wantErr: "handshake: read C2: unexpected EOF", is: io.ErrUnexpectedEOF},
	{name: "short C2", in: append([]byte{Version}, make([]byte, PacketSize+10)...), wantErr: "handshake: read C2: unexpected EOF", is: io.ErrUnexpectedEOF},
	{name: "simple", in: append([]byte{Version}, make([]byte, 2*PacketSize)...)},
	{name: "C2 garbage accepted", in: append(append([]byte{Version}, make([]byte, PacketSize)...), bytes.Repeat([]byte{0xab}, PacketSize)...)},
}

func TestServer_Input(t *testing.T) {
	for _, tc := range serverCases {
		t.Run(tc.name, func(t *testing.T) {
			p := &pipe{in: bytes.NewReader(tc.in)}
			err := Server(p)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Server = %v, want success", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Server = %v, want error containing %q", err, tc.wantErr)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("Server = %v, want errors.Is %v", err, tc.is)
			}
		})
	}
}

func TestServer_ReadsNoMoreThanTheHandshake(t *testing.T) {
	in := append(append([]byte{Version}, make([]byte, 2*PacketSize)...), []byte("chunk stream bytes")...)
	p := &pipe{in: bytes.NewReader(in)}
	if err := Server(p); err != nil {
		t.Fatal(err)
	}
	if rest := p.in.Len(); rest != len("chunk stream bytes") {
		t.Errorf("after Server, %d bytes are left unread, want %d", rest, len("chunk stream bytes"))
	}
}

func FuzzServer(f *testing.F) {
	for _, tc := range serverCases {
		f.Add(tc.in)
	}
	f.Add(append(ffmpegC0C1(f), make([]byte, PacketSize)...))
	f.Fuzz(func(t *testing.T, in []byte) {
		p := &pipe{in: bytes.NewReader(in)}
		err := server(p, fixedRandom(9))
		read := len(in) - p.in.Len()
		if read > 1+2*PacketSize {
			t.Fatalf("server read %d bytes, more than the handshake", read)
		}
		if err == nil && read != 1+2*PacketSize {
			t.Fatalf("server succeeded after reading %d bytes", read)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "handshake: ") {
			t.Fatalf("error %q lacks the package prefix", err)
		}
	})
}
