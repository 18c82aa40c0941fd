package handshake

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/shoal-live/shoal/internal/rtmp/chunk"
)

// TestServer_FFmpeg runs a real ffmpeg client against Server. When playing,
// ffmpeg checks the S1 digest and the S2 signature and gives up before
// connect if either is wrong, so a connect command after the handshake
// proves both.
func TestServer_FFmpeg(t *testing.T) {
	ffmpeg := needFFmpeg(t)
	modes := []struct {
		name string
		args func(url string) []string
	}{
		{"play", func(url string) []string {
			return []string{"-loglevel", "error", "-i", url, "-t", "1", "-f", "null", "-"}
		}},
		{"publish", func(url string) []string {
			return []string{
				"-loglevel", "error", "-re", "-f", "lavfi", "-i", "sine=frequency=440:duration=5",
				"-c:a", "aac", "-f", "flv", url,
			}
		}},
	}
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			cmd := exec.CommandContext(t.Context(), ffmpeg, mode.args("rtmp://"+ln.Addr().String()+"/live/test")...)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() {
				_ = cmd.Process.Kill()
				_ = cmd.Wait()
			}()

			c, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := c.SetDeadline(time.Now().Add(20 * time.Second)); err != nil {
				t.Fatal(err)
			}
			if err := Server(c); err != nil {
				t.Fatalf("Server: %v", err)
			}
			r := chunk.NewReader(c, chunk.DefaultLimits)
			for {
				m, err := r.Read()
				if err != nil {
					t.Fatalf("no connect command after the handshake: %v", err)
				}
				if m.TypeID == 1 && len(m.Body) >= 4 { // Set Chunk Size
					if err := r.SetChunkSize(binary.BigEndian.Uint32(m.Body)); err != nil {
						t.Fatal(err)
					}
					continue
				}
				if m.TypeID != 20 {
					t.Fatalf("first message type %d, want a connect command (20)", m.TypeID)
				}
				const name = "\x02\x00\x07connect"
				if string(m.Body[:len(name)]) != name {
					t.Fatalf("first command body %q, want connect", m.Body)
				}
				return
			}
		})
	}
}

// TestClient_FFmpegServer runs Client against ffmpeg in listen mode, which
// warns when C2 does not echo S1.
func TestClient_FFmpegServer(t *testing.T) {
	ffmpeg := needFFmpeg(t)
	// Pick a free port, then let ffmpeg listen on it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.CommandContext(t.Context(), ffmpeg, "-loglevel", "warning", "-listen", "1", "-timeout", "20",
		"-i", "rtmp://"+addr+"/live/test", "-f", "null", "-")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}
	defer stop()

	var c net.Conn
	checkFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		c, err = net.Dial("tcp", addr)
		return err
	})
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(20 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := Client(c); err != nil {
		t.Fatalf("Client: %v", err)
	}
	// ffmpeg closes the connection when it rejects C2; a live connection
	// times out on this read instead.
	if err := c.SetReadDeadline(time.Now().Add(300 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	var b [1]byte
	if _, err := c.Read(b[:]); err == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("after the handshake ffmpeg sent or closed: %v; want it waiting for connect", err)
	}
	stop()
	if strings.Contains(stderr.String(), "Erroneous") {
		t.Errorf("ffmpeg rejected the handshake:\n%s", stderr.String())
	}
}

// checkFor calls f every interval until it returns nil, and fails the test
// with f's last error after timeout.
func checkFor(t *testing.T, timeout, interval time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %v", timeout, err)
		}
		time.Sleep(interval)
	}
}

// needFFmpeg returns ffmpeg's path. A missing ffmpeg fails the test (make
// test installs it) unless SHOAL_ALLOW_MISSING_TOOLS is set, when the test
// skips loudly.
func needFFmpeg(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("ffmpeg")
	if err == nil {
		return path
	}
	if os.Getenv("SHOAL_ALLOW_MISSING_TOOLS") != "" {
		t.Skip("SKIPPED LOUDLY: ffmpeg not installed (SHOAL_ALLOW_MISSING_TOOLS set); run scripts/test-deps.sh")
	}
	t.Fatal("ffmpeg not installed: run scripts/test-deps.sh (make test does)")
	return ""
}
