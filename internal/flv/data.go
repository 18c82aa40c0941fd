package flv

// Names of the AMF0 data messages that carry stream metadata.
const (
	SetDataFrame = "@setDataFrame" // a publisher's request to store a data frame
	OnMetaData   = "onMetaData"    // the metadata as players receive it
)

const amf0String = 0x02 // AMF0 string marker: UI16 length, then UTF-8

// amf0StringAt reports whether b starts with the AMF0 string s and returns
// the bytes after it.
func amf0StringAt(b []byte, s string) ([]byte, bool) {
	n := 3 + len(s)
	if len(b) < n || b[0] != amf0String || int(b[1])<<8|int(b[2]) != len(s) || string(b[3:n]) != s {
		return nil, false
	}
	return b[n:], true
}

// Metadata reports whether payload, the body of an AMF0 data message
// (PacketData), is stream metadata: "onMetaData" followed by its values,
// or the same wrapped as "@setDataFrame" "onMetaData" …, which is how a
// publisher sends it. It returns the message as players receive it, starting
// at "onMetaData": a subslice of payload, never a copy or a rewrite.
func Metadata(payload []byte) ([]byte, bool) {
	body := payload
	if rest, ok := amf0StringAt(payload, SetDataFrame); ok {
		body = rest
	}
	if _, ok := amf0StringAt(body, OnMetaData); !ok {
		return nil, false
	}
	return body, true
}
