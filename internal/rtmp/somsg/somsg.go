// Package somsg encodes and decodes the body of RTMP shared-object messages
// (message types 19 and 16): the object's name, version and persistence
// flag, then a sequence of events (Use, RequestChange, Change, SendMessage,
// Status, ...), each framed as a type byte, a u32 length and its data.
//
// The layout and its quirks follow Red5 (see
// reference/red5-shared-objects.md §1): keys, status codes and levels are
// u16 strings without a type marker; a SendMessage handler is a full AMF0
// string with its marker; event values are AMF0, or AMF3 when the
// connection's object encoding is AMF3.
//
// AMF3 reference tables are scoped to one value: each RequestChange or
// Change value, and each SendMessage argument list, is encoded and decoded
// with fresh tables. Red5 shares one table set per message; nobody knows what
// Flash Player does there, and self-contained values can be stored and
// relayed on their own, so this package keeps them self-contained. The
// arguments of one SendMessage share one table set, as command arguments do.
package somsg

import (
	"errors"
	"strconv"

	"github.com/shoal-live/shoal/internal/rtmp/amf"
)

// EventType is the type byte of a shared-object event. Names follow the
// RTMP specification; the comments give Red5's names.
type EventType uint8

// Event types, valued as on the wire.
const (
	Use           EventType = 1  // SERVER_CONNECT: a client starts using the object
	Release       EventType = 2  // SERVER_DISCONNECT: a client stops using it
	RequestChange EventType = 3  // SERVER_SET_ATTRIBUTE: a client asks to set a key
	Change        EventType = 4  // CLIENT_UPDATE_DATA: a key changed
	Success       EventType = 5  // CLIENT_UPDATE_ATTRIBUTE: the requester's change was accepted
	SendMessage   EventType = 6  // SERVER_SEND_MESSAGE / CLIENT_SEND_MESSAGE: call a handler on every client
	Status        EventType = 7  // CLIENT_STATUS: an error code and level
	Clear         EventType = 8  // CLIENT_CLEAR_DATA: drop all local data
	Remove        EventType = 9  // CLIENT_DELETE_DATA: a key was removed
	RequestRemove EventType = 10 // SERVER_DELETE_ATTRIBUTE: a client asks to remove a key
	UseSuccess    EventType = 11 // CLIENT_INITIAL_DATA: the Use was accepted
)

var eventNames = [...]string{
	Use:           "Use",
	Release:       "Release",
	RequestChange: "RequestChange",
	Change:        "Change",
	Success:       "Success",
	SendMessage:   "SendMessage",
	Status:        "Status",
	Clear:         "Clear",
	Remove:        "Remove",
	RequestRemove: "RequestRemove",
	UseSuccess:    "UseSuccess",
}

// String returns the specification's name of t.
func (t EventType) String() string {
	if int(t) < len(eventNames) && eventNames[t] != "" {
		return eventNames[t]
	}
	return "EventType(" + strconv.Itoa(int(t)) + ")"
}

// Status codes a server sends in Status events. The level is always
// LevelError.
const (
	CodeNoReadAccess         = "SharedObject.NoReadAccess"
	CodeNoWriteAccess        = "SharedObject.NoWriteAccess"
	CodeObjectCreationFailed = "SharedObject.ObjectCreationFailed"
	CodeBadPersistence       = "SharedObject.BadPersistence"
	LevelError               = "error"
)

// Event is one shared-object event. Which fields are used depends on Type:
//
//	Use, Release, Clear, UseSuccess   none
//	RequestChange, Change             Key and Value (nil is AMF null), or Pairs
//	Success, Remove, RequestRemove    Key, and Value if the sender added one
//	SendMessage                       Handler and Args
//	Status                            Code and Level
type Event struct {
	Type  EventType
	Key   string
	Value any
	// Handler is the name of the client function a SendMessage calls.
	Handler string
	// Args are the SendMessage arguments. Append writes one AMF null for nil
	// Args, as Red5 does, and nothing for an empty non-nil slice; Decode
	// returns a non-nil slice.
	Args []any
	// Code and Level describe a Status.
	Code, Level string
	// Pairs holds the key/value pairs of a Change event that carries more
	// than one (Red5's decoder accepts that; Red5 and Shoal send one pair
	// per event). When Pairs is set, Key and Value are unused.
	Pairs []amf.Property
	// Description explains a Status for logs and non-RTMP faces. It is not
	// part of the RTMP encoding.
	Description string
}

// Message is the body of one shared-object message.
type Message struct {
	Name       string
	Version    uint32
	Persistent bool
	Events     []Event
}

// Sentinel errors; decode errors wrap one of them or an amf sentinel.
var (
	// ErrTruncated means the body ends inside the header or inside an event.
	ErrTruncated = errors.New("truncated")
	// ErrMalformed means an event's data does not have the shape its type
	// requires.
	ErrMalformed = errors.New("malformed")
	// ErrUnknownType means Append was given an event type it cannot encode.
	ErrUnknownType = errors.New("unknown event type")
)

// flagPersistent is the flags bit Red5 writes (and tests) for a persistent
// object. Some clients write other bits; only this one is read.
const flagPersistent = 2

// headerSize is the fixed part of the header after the name.
const headerSize = 12
