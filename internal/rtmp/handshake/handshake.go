// Package handshake performs the RTMP handshake (C0–C2 / S0–S2) for both
// sides of a connection.
//
// Two variants are in use. The simple handshake of the RTMP specification
// sends random bytes and echoes the peer's. The digest ("complex") handshake
// of Flash Player, FMS, ffmpeg and librtmp hides an HMAC-SHA256 digest of the
// packet in C1 and S1, at an offset derived from four bytes of the packet,
// and signs C2 and S2 with a key derived from the peer's digest:
//
//	scheme 0: offset = (c[8]+c[9]+c[10]+c[11]) % 728 + 12     (ffmpeg, Flash Player 9)
//	scheme 1: offset = (c[772]+c[773]+c[774]+c[775]) % 728 + 776  (librtmp with FP10 version)
//
// A client signals the digest handshake with a non-zero version in C1 bytes
// 4..7. A Server answers in kind when C1 carries a valid digest, and with the
// simple handshake otherwise. Encrypted RTMPE (C0 = 6 or 8) is not supported.
package handshake

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
)

// Sizes of the handshake packets.
const (
	// Version is the RTMP version byte of C0 and S0.
	Version = 3
	// PacketSize is the size of C1, S1, C2 and S2.
	PacketSize = 1536

	digestSize    = sha256.Size
	digestSpan    = 728 // range of digest offsets within a half
	signatureAt   = PacketSize - digestSize
	fpKeyShort    = 30 // "Genuine Adobe Flash Player 001"
	fmsKeyShort   = 36 // "Genuine Adobe Flash Media Server 001"
	versionOffset = 4
)

// Errors the handshake returns, wrapped with details.
var (
	// ErrUnsupportedVersion means C0 or S0 was not 3.
	ErrUnsupportedVersion = errors.New("unsupported version")
	// ErrSignature means S2 was neither correctly signed nor an echo of C1.
	ErrSignature = errors.New("signature does not match")
)

// randomCrypto is the shared tail of the Flash Player and FMS keys.
var randomCrypto = []byte{
	0xF0, 0xEE, 0xC2, 0x4A, 0x80, 0x68, 0xBE, 0xE8, 0x2E, 0x00, 0xD0, 0xD1,
	0x02, 0x9E, 0x7E, 0x57, 0x6E, 0xEC, 0x5D, 0x2D, 0x29, 0x80, 0x6F, 0xAB,
	0x93, 0xB8, 0xE6, 0x36, 0xCF, 0xEB, 0x31, 0xAE,
}

// Keys of the digest handshake: a client signs C1 with the first 30 bytes of
// fpKey, a server signs S1 with the first 36 bytes of fmsKey; the full keys
// derive the C2 and S2 signing keys from the peer's digest.
var (
	fpKey  = append([]byte("Genuine Adobe Flash Player 001"), randomCrypto...)
	fmsKey = append([]byte("Genuine Adobe Flash Media Server 001"), randomCrypto...)
)

// Versions written in bytes 4..7 of C1 and S1 for the digest handshake.
var (
	clientVersion = [4]byte{9, 0, 124, 2} // what ffmpeg sends
	serverVersion = [4]byte{4, 5, 0, 1}   // an FMS 4.5 version
)

// scheme is a digest placement: where the four offset bytes are and where
// the half holding the digest starts.
type scheme struct {
	offsetBytes int
	base        int
}

var schemes = [2]scheme{
	{offsetBytes: 8, base: 12},
	{offsetBytes: 772, base: 776},
}

// digestOffset returns where the digest of p sits under scheme s.
func (s scheme) digestOffset(p []byte) int {
	b := p[s.offsetBytes : s.offsetBytes+4]
	return (int(b[0])+int(b[1])+int(b[2])+int(b[3]))%digestSpan + s.base
}

// packetDigest computes the HMAC-SHA256 of p without the 32 bytes at off.
func packetDigest(p []byte, off int, key []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write(p[:off])
	h.Write(p[off+digestSize:])
	return h.Sum(nil)
}

// findDigest returns the offset of a valid digest of p signed with key,
// trying the schemes in the given order, or -1.
func findDigest(p, key []byte, order ...int) int {
	for _, i := range order {
		off := schemes[i].digestOffset(p)
		if hmac.Equal(p[off:off+digestSize], packetDigest(p, off, key)) {
			return off
		}
	}
	return -1
}

// imprintDigest writes the digest of p under scheme s and returns its offset.
func imprintDigest(p []byte, s scheme, key []byte) int {
	off := s.digestOffset(p)
	copy(p[off:], packetDigest(p, off, key))
	return off
}

// signature computes the C2/S2 signature: HMAC-SHA256 of the first 1504
// bytes of p, keyed with HMAC-SHA256(peerDigest, key).
func signature(p, peerDigest, key []byte) []byte {
	k := hmac.New(sha256.New, key)
	k.Write(peerDigest)
	h := hmac.New(sha256.New, k.Sum(nil))
	h.Write(p[:signatureAt])
	return h.Sum(nil)
}

// checkVersion checks a C0 or S0 byte; what C0 holds tells what the peer
// really is when it is not RTMP.
func checkVersion(packet string, v byte) error {
	switch {
	case v == Version:
		return nil
	case v == 6 || v == 8 || v == 9:
		return fmt.Errorf("handshake: %w 0x%02x in %s (encrypted RTMPE)", ErrUnsupportedVersion, v, packet)
	case v >= 'A' && v <= 'Z':
		return fmt.Errorf("handshake: %w 0x%02x in %s (%q: HTTP or another text protocol?)", ErrUnsupportedVersion, v, packet, v)
	case v == 0x16:
		return fmt.Errorf("handshake: %w 0x%02x in %s (TLS client hello: RTMPS on a plain RTMP port?)", ErrUnsupportedVersion, v, packet)
	default:
		return fmt.Errorf("handshake: %w 0x%02x in %s", ErrUnsupportedVersion, v, packet)
	}
}

// readFull reads a handshake packet, naming it in the error.
func readFull(r io.Reader, p []byte, packet string) error {
	if _, err := io.ReadFull(r, p); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("handshake: read %s: %w", packet, err)
	}
	return nil
}

// Server performs the server side of the handshake: it reads C0+C1, writes
// S0+S1+S2 in one write and reads C2. It never reads more than the
// 1+1536+1536 handshake bytes, so the connection can go straight to a chunk
// reader afterwards.
func Server(rw io.ReadWriter) error {
	return server(rw, rand.Reader)
}

// server is Server with a source of random bytes.
func server(rw io.ReadWriter, random io.Reader) error {
	c0c1 := make([]byte, 1+PacketSize)
	if err := readFull(rw, c0c1[:1], "C0"); err != nil {
		return err
	}
	if err := checkVersion("C0", c0c1[0]); err != nil {
		return err
	}
	if err := readFull(rw, c0c1[1:], "C1"); err != nil {
		return err
	}
	c1 := c0c1[1:]

	out := make([]byte, 1+2*PacketSize)
	out[0] = Version
	s1, s2 := out[1:1+PacketSize], out[1+PacketSize:]
	if _, err := io.ReadFull(random, out[1:]); err != nil {
		return fmt.Errorf("handshake: random bytes: %w", err)
	}
	clear(s1[:4]) // time 0

	// A client with a zero version does the simple handshake; one with a
	// version but no valid digest gets the simple handshake too.
	digestAt := -1
	if !bytes.Equal(c1[versionOffset:versionOffset+4], []byte{0, 0, 0, 0}) {
		digestAt = findDigest(c1, fpKey[:fpKeyShort], 0, 1)
	}
	if digestAt < 0 {
		clear(s1[versionOffset : versionOffset+4])
		copy(s2, c1)
	} else {
		copy(s1[versionOffset:], serverVersion[:])
		// Answer with the scheme the client used.
		s := schemes[0]
		if digestAt >= schemes[1].base {
			s = schemes[1]
		}
		imprintDigest(s1, s, fmsKey[:fmsKeyShort])
		copy(s2[signatureAt:], signature(s2, c1[digestAt:digestAt+digestSize], fmsKey))
	}
	if _, err := rw.Write(out); err != nil {
		return fmt.Errorf("handshake: write S0+S1+S2: %w", err)
	}

	// C2 is read and not checked: clients differ in what they put there
	// (echo of S1, a signature, or zeros) and nothing depends on it.
	return readFull(rw, c0c1[1:], "C2")
}

// Client performs the client side of the handshake with a digest C1, as
// ffmpeg and Flash Player do. It signs C2 when S1 carries a valid digest
// and echoes S1 otherwise. It checks S2 loosely, like librtmp: only a server
// that proved itself with an S1 digest must sign S2, and an echo of C1 is
// accepted too.
func Client(rw io.ReadWriter) error {
	return client(rw, rand.Reader)
}

// client is Client with a source of random bytes.
func client(rw io.ReadWriter, random io.Reader) error {
	c0c1 := make([]byte, 1+PacketSize)
	if _, err := io.ReadFull(random, c0c1[1:]); err != nil {
		return fmt.Errorf("handshake: random bytes: %w", err)
	}
	c0c1[0] = Version
	c1 := c0c1[1:]
	clear(c1[:4])
	copy(c1[versionOffset:], clientVersion[:])
	clientDigestAt := imprintDigest(c1, schemes[0], fpKey[:fpKeyShort])
	if _, err := rw.Write(c0c1); err != nil {
		return fmt.Errorf("handshake: write C0+C1: %w", err)
	}

	s0s1 := make([]byte, 1+PacketSize)
	if err := readFull(rw, s0s1[:1], "S0"); err != nil {
		return err
	}
	if err := checkVersion("S0", s0s1[0]); err != nil {
		return err
	}
	if err := readFull(rw, s0s1[1:], "S1"); err != nil {
		return err
	}
	s1 := s0s1[1:]

	serverDigestAt := -1
	if !bytes.Equal(s1[versionOffset:versionOffset+4], []byte{0, 0, 0, 0}) {
		serverDigestAt = findDigest(s1, fmsKey[:fmsKeyShort], 1, 0)
	}
	c2 := make([]byte, PacketSize)
	if serverDigestAt < 0 {
		copy(c2, s1)
	} else {
		if _, err := io.ReadFull(random, c2); err != nil {
			return fmt.Errorf("handshake: random bytes: %w", err)
		}
		copy(c2[signatureAt:], signature(c2, s1[serverDigestAt:serverDigestAt+digestSize], fpKey))
	}
	if _, err := rw.Write(c2); err != nil {
		return fmt.Errorf("handshake: write C2: %w", err)
	}

	s2 := c2 // reuse: C2 is sent
	if err := readFull(rw, s2, "S2"); err != nil {
		return err
	}
	if serverDigestAt < 0 {
		return nil // simple handshake: S2 should echo C1, nobody checks
	}
	want := signature(s2, c1[clientDigestAt:clientDigestAt+digestSize], fmsKey)
	if hmac.Equal(s2[signatureAt:], want) || bytes.Equal(s2, c1) {
		return nil
	}
	return fmt.Errorf("handshake: S2: %w", ErrSignature)
}
