package flv

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// FLV file layout (Adobe FLV and F4V specification 10.1, annex E): a 9-byte
// header ("FLV", version, flags, header size), PreviousTagSize0, then tags,
// each an 11-byte tag header, the tag body and a 4-byte PreviousTagSize.
const (
	fileHeaderSize = 9
	tagHeaderSize  = 11
	tagFilterBit   = 0x20 // TagType bit 5: the body is encrypted (filtered)
	// maxFileHeaderSize bounds the DataOffset of the header: a real file
	// says 9, and anything large is not an FLV header.
	maxFileHeaderSize = 1 << 10
)

// ErrNotFLVFile is returned by FileReader.ReadPacket when the input does not
// start with an FLV file header.
var ErrNotFLVFile = errors.New("not an flv file")

// ErrEncryptedTag is returned by FileReader.ReadPacket for a tag whose
// filter bit says its body is encrypted.
var ErrEncryptedTag = errors.New("encrypted tag not supported")

// FileHeader is what the header of an FLV file says.
type FileHeader struct {
	Version  uint8
	HasAudio bool
	HasVideo bool
}

// FileReader reads the tags of an FLV file as packets. It reads the file
// header on the first ReadPacket.
type FileReader struct {
	r      io.Reader
	header FileHeader
	began  bool
	buf    [tagHeaderSize]byte
}

// NewFileReader returns a FileReader reading an FLV file from r. Wrap r in a
// bufio.Reader if it is unbuffered: the FileReader reads small headers.
func NewFileReader(r io.Reader) *FileReader {
	return &FileReader{r: r}
}

// Header returns the file header; it is the zero FileHeader before the
// first ReadPacket.
func (fr *FileReader) Header() FileHeader { return fr.header }

// ReadPacket returns the next audio, video or script-data tag as a Packet
// with Keyframe and SequenceHeader set, skipping tags of other types. The
// payload is freshly allocated for each packet. It returns io.EOF at the
// end of the file, and an error wrapping io.ErrUnexpectedEOF for a file cut
// inside a tag.
func (fr *FileReader) ReadPacket() (*Packet, error) {
	if !fr.began {
		if err := fr.readHeader(); err != nil {
			return nil, err
		}
		fr.began = true
	}
	for {
		h := fr.buf[:tagHeaderSize]
		if _, err := io.ReadFull(fr.r, h); err != nil {
			if errors.Is(err, io.EOF) {
				return nil, io.EOF
			}
			return nil, fmt.Errorf("flv: read tag header: %w", err)
		}
		typ := h[0]
		size := int(h[1])<<16 | int(h[2])<<8 | int(h[3])
		ts := uint32(h[4])<<16 | uint32(h[5])<<8 | uint32(h[6]) | uint32(h[7])<<24
		if typ&tagFilterBit != 0 {
			return nil, fmt.Errorf("flv: tag type %#x at timestamp %d: %w", typ, ts, ErrEncryptedTag)
		}
		body := make([]byte, size+4) // the body, then PreviousTagSize
		if n, err := io.ReadFull(fr.r, body); err != nil {
			switch {
			case n < size && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)):
				return nil, fmt.Errorf("flv: read tag body of %d bytes at timestamp %d: %w", size, ts, io.ErrUnexpectedEOF)
			case !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF):
				return nil, fmt.Errorf("flv: read tag body at timestamp %d: %w", ts, err)
			}
			// A last tag without its PreviousTagSize is still whole.
		}
		body = body[:size:size]
		switch t := PacketType(typ & 0x1f); t {
		case PacketAudio, PacketVideo, PacketData:
			return NewPacket(t, ts, body), nil
		}
	}
}

// readHeader reads the file header and PreviousTagSize0.
func (fr *FileReader) readHeader() error {
	h := fr.buf[:fileHeaderSize]
	if _, err := io.ReadFull(fr.r, h); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("flv: read file header: %w", err)
	}
	if h[0] != 'F' || h[1] != 'L' || h[2] != 'V' {
		return fmt.Errorf("flv: signature %q: %w", h[:3], ErrNotFLVFile)
	}
	offset := binary.BigEndian.Uint32(h[5:9])
	if offset < fileHeaderSize || offset > maxFileHeaderSize {
		return fmt.Errorf("flv: header size %d, want 9 to %d: %w", offset, maxFileHeaderSize, ErrNotFLVFile)
	}
	header := FileHeader{Version: h[3], HasAudio: h[4]&0x04 != 0, HasVideo: h[4]&0x01 != 0}
	// The rest of a longer header, then PreviousTagSize0.
	if _, err := io.CopyN(io.Discard, fr.r, int64(offset)-fileHeaderSize+4); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("flv: read file header: %w", err)
	}
	fr.header = header
	return nil
}
