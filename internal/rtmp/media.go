package rtmp

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/shoal-live/shoal/internal/flv"
	"github.com/shoal-live/shoal/internal/rtmp/message"
)

// AMF0 string values that frame data messages.
const (
	setDataFrame   = "@setDataFrame"
	clearDataFrame = "@clearDataFrame"
)

// amf0StringPrefix reports whether b starts with the AMF0 string s and
// returns the rest of b.
func amf0StringPrefix(b []byte, s string) ([]byte, bool) {
	n := 3 + len(s)
	if len(b) < n || b[0] != 0x02 || int(binary.BigEndian.Uint16(b[1:])) != len(s) || string(b[3:n]) != s {
		return nil, false
	}
	return b[n:], true
}

// dataPayload turns the body of a data message (type 18, or 15 with its
// leading format byte) into an AMF0 data packet payload with the
// @setDataFrame wrapper removed. ok is false for messages that carry no
// data for players (@clearDataFrame, empty bodies).
func dataPayload(typeID uint8, body []byte) (payload []byte, ok bool) {
	if typeID == message.TypeDataAMF3 && len(body) > 0 && body[0] == 0 {
		body = body[1:]
	}
	if rest, ok := amf0StringPrefix(body, setDataFrame); ok {
		body = rest
	}
	if _, ok := amf0StringPrefix(body, clearDataFrame); ok || len(body) == 0 {
		return nil, false
	}
	return body, true
}

// aggregateTagHeader is the size of a sub-message header in an aggregate:
// type(1) size(3) timestamp(3) timestamp extension(1) stream id(3).
const aggregateTagHeader = 11

// errBadAggregate means an aggregate message body is not a sequence of
// well-formed sub-messages.
var errBadAggregate = errors.New("malformed aggregate message")

// splitAggregate calls fn for each sub-message of an aggregate message
// (type 22) with timestamp ts. The first sub-message takes ts; the others
// keep their distance to it. The payloads share memory with body.
func splitAggregate(body []byte, ts uint32, fn func(typeID uint8, ts uint32, payload []byte)) error {
	var base uint32
	for i := 0; len(body) > 0; i++ {
		if len(body) < aggregateTagHeader {
			return fmt.Errorf("%w: %d bytes left, want a %d-byte header", errBadAggregate, len(body), aggregateTagHeader)
		}
		typeID := body[0]
		size := int(body[1])<<16 | int(body[2])<<8 | int(body[3])
		subTS := uint32(body[4])<<16 | uint32(body[5])<<8 | uint32(body[6]) | uint32(body[7])<<24
		if len(body) < aggregateTagHeader+size {
			return fmt.Errorf("%w: sub-message %d declares %d bytes, %d left", errBadAggregate, i, size, len(body)-aggregateTagHeader)
		}
		if i == 0 {
			base = subTS
		}
		fn(typeID, ts+(subTS-base), body[aggregateTagHeader:aggregateTagHeader+size:aggregateTagHeader+size])
		body = body[aggregateTagHeader+size:]
		// The back pointer (previous tag size) follows each sub-message;
		// some servers omit it after the last one.
		body = body[min(4, len(body)):]
	}
	return nil
}

// isMediaType reports the message types that become packets.
func isMediaType(typeID uint8) bool {
	switch typeID {
	case message.TypeAudio, message.TypeVideo, message.TypeDataAMF0, message.TypeDataAMF3:
		return true
	}
	return false
}

// newPacket makes a packet from a media or data message body; ok is false
// for bodies that carry nothing to forward.
func newPacket(typeID uint8, ts uint32, body []byte) (*flv.Packet, bool) {
	switch typeID {
	case message.TypeAudio, message.TypeVideo:
		if len(body) == 0 {
			return nil, false
		}
		return flv.NewPacket(flv.PacketType(typeID), ts, body), true
	case message.TypeDataAMF0, message.TypeDataAMF3:
		payload, ok := dataPayload(typeID, body)
		if !ok {
			return nil, false
		}
		return flv.NewPacket(flv.PacketData, ts, payload), true
	}
	return nil, false
}
