package amf

import (
	"errors"
	"strconv"
)

// Sentinel errors. Decode and encode errors wrap one of them, so callers
// branch with errors.Is.
var (
	// ErrTruncated means the input ended inside a value, or a declared length
	// or count is larger than what is left of the input.
	ErrTruncated = errors.New("truncated")
	// ErrTooDeep means values are nested deeper than Limits.MaxDepth.
	ErrTooDeep = errors.New("nested too deep")
	// ErrTooLong means a string, XML or byte array is longer than
	// Limits.MaxStringLen, or too long for the wire field that carries it.
	ErrTooLong = errors.New("too long")
	// ErrTooMany means a collection holds more than Limits.MaxItems items,
	// or a message more than Limits.MaxTotalItems.
	ErrTooMany = errors.New("too many items")
	// ErrUnknownMarker means a type marker is unknown, reserved, or not
	// allowed where it appears.
	ErrUnknownMarker = errors.New("unknown type marker")
	// ErrBadReference means a reference points outside its table, to a value
	// that contains it, or to a value of another type.
	ErrBadReference = errors.New("bad reference")
	// ErrUnsupported means a value is valid AMF that this package does not
	// handle (AMF3 externalizable objects), or a Go value has no AMF form.
	ErrUnsupported = errors.New("unsupported")
)

// DecodeError says what a decoder was reading, and where, when it failed.
// Its message reads like `amf0: object property "x" at offset 17: truncated`.
type DecodeError struct {
	Codec  string // "amf0" or "amf3"
	What   string // what was being read, e.g. `object property "x"`
	Offset int    // where that started in the decoder's input
	Err    error  // the cause, which wraps one of the Err sentinels
}

// Error returns the message, e.g. `amf0: string at offset 3: truncated`.
func (e *DecodeError) Error() string {
	return e.Codec + ": " + e.What + " at offset " + strconv.Itoa(e.Offset) + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *DecodeError) Unwrap() error { return e.Err }
