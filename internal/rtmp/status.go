package rtmp

import (
	"errors"

	"github.com/shoal-live/shoal/internal/rtmp/amf"
)

// Errors a Handler returns to refuse a publish or a play. The server maps
// them to the status codes clients know.
var (
	// ErrStreamTaken means another publisher holds the stream name; the
	// client gets NetStream.Publish.BadName.
	ErrStreamTaken = errors.New("stream name already published")
	// ErrStreamNotFound means nothing is published under the name; the
	// client gets NetStream.Play.StreamNotFound.
	ErrStreamNotFound = errors.New("stream not found")
)

// Status levels and the codes this package sends or recognises.
const (
	LevelStatus = "status"
	LevelError  = "error"

	CodeConnectSuccess     = "NetConnection.Connect.Success"
	CodeConnectRejected    = "NetConnection.Connect.Rejected"
	CodeCallFailed         = "NetConnection.Call.Failed"
	CodePublishStart       = "NetStream.Publish.Start"
	CodePublishBadName     = "NetStream.Publish.BadName"
	CodePublishFailed      = "NetStream.Publish.Failed"
	CodeUnpublishSuccess   = "NetStream.Unpublish.Success"
	CodePlayReset          = "NetStream.Play.Reset"
	CodePlayStart          = "NetStream.Play.Start"
	CodePlayStop           = "NetStream.Play.Stop"
	CodePlayFailed         = "NetStream.Play.Failed"
	CodePlayStreamNotFound = "NetStream.Play.StreamNotFound"
	CodePlayUnpublish      = "NetStream.Play.UnpublishNotify"
	CodePauseNotify        = "NetStream.Pause.Notify"
	CodeUnpauseNotify      = "NetStream.Unpause.Notify"
	CodeSeekNotify         = "NetStream.Seek.Notify"
	CodeSeekFailed         = "NetStream.Seek.Failed"
)

// StatusError is an error status a peer sent: an onStatus or _error info
// object with level "error", or a status other than the one expected.
type StatusError struct {
	Level       string
	Code        string
	Description string
}

// Error implements error.
func (e *StatusError) Error() string {
	if e.Description == "" {
		return "rtmp status " + e.Code
	}
	return "rtmp status " + e.Code + ": " + e.Description
}

// statusInfo builds the info object of an onStatus or _result/_error.
func statusInfo(level, code, description string, extra ...amf.Property) amf.Object {
	o := make(amf.Object, 0, 3+len(extra))
	o = append(o,
		amf.Property{Key: "level", Value: level},
		amf.Property{Key: "code", Value: code},
		amf.Property{Key: "description", Value: description},
	)
	return append(o, extra...)
}

// properties returns the properties of an AMF object-like value.
func properties(v any) (amf.Object, bool) {
	switch o := v.(type) {
	case amf.Object:
		return o, true
	case amf.ECMAArray:
		return amf.Object(o), true
	case *amf.TypedObject:
		if o != nil {
			return o.Props, true
		}
	case *amf.Array:
		if o != nil {
			return amf.Object(o.Assoc), true
		}
	}
	return nil, false
}

// stringProp returns the string property key of an object-like value.
func stringProp(v any, key string) string {
	o, ok := properties(v)
	if !ok {
		return ""
	}
	s, _ := lookup(o, key).(string)
	return s
}

// lookup returns the value of key in o, or nil.
func lookup(o amf.Object, key string) any {
	v, _ := o.Get(key)
	return v
}

// parseStatus reads level, code and description from an info object.
func parseStatus(v any) (*StatusError, bool) {
	o, ok := properties(v)
	if !ok {
		return nil, false
	}
	s := &StatusError{}
	s.Level, _ = lookup(o, "level").(string)
	s.Code, _ = lookup(o, "code").(string)
	s.Description, _ = lookup(o, "description").(string)
	return s, s.Code != "" || s.Level != ""
}
