package message

import (
	"errors"

	"github.com/shoal-live/shoal/internal/rtmp/chunk"
)

// Unknown is a message of a type this package does not decode; Raw is the
// chunk message as read.
type Unknown struct {
	Raw *chunk.Message
}

// Type returns the type id of the raw message.
func (u *Unknown) Type() uint8 {
	if u.Raw == nil {
		return 0
	}
	return u.Raw.TypeID
}

func (u *Unknown) marshal() (*chunk.Message, error) {
	if u.Raw == nil {
		return nil, errors.New("message: encode unknown: no raw message")
	}
	return u.Raw, nil
}
