package wsface

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/shoal-live/shoal/internal/rtmp/amf"
	"github.com/shoal-live/shoal/internal/rtmp/somsg"
	"github.com/shoal-live/shoal/internal/sharedobject"
)

// protocolError is a frame the server cannot read; it closes the
// connection with status 1007 and the error as the reason.
type protocolError struct{ msg string }

func (e *protocolError) Error() string { return e.msg }

func badFrame(format string, args ...any) error {
	return &protocolError{msg: fmt.Sprintf(format, args...)}
}

// request is one parsed client frame.
type request struct {
	Op         string
	Name       string
	Persistent bool
	reqs       []sharedobject.Request // for set, update, remove, send
}

// wireRequest is the JSON shape of a client frame. Values stay raw so that
// object key order survives into AMF.
type wireRequest struct {
	Op         string            `json:"op"`
	Name       string            `json:"name"`
	Persistent bool              `json:"persistent"`
	Key        string            `json:"key"`
	Value      json.RawMessage   `json:"value"`
	Set        json.RawMessage   `json:"set"`
	Remove     []string          `json:"remove"`
	Handler    string            `json:"handler"`
	Args       []json.RawMessage `json:"args"`
}

const maxNameLen = 1024

// parseRequest decodes a client frame. Errors name what was wrong.
func parseRequest(b []byte) (*request, error) {
	var w wireRequest
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return nil, badFrame("bad frame: %v", err)
	}
	r := &request{Op: w.Op, Name: w.Name, Persistent: w.Persistent}
	if w.Op == "ping" {
		return r, nil
	}
	if w.Name == "" {
		return nil, badFrame("%s: name is required", opName(w.Op))
	}
	if len(w.Name) > maxNameLen {
		return nil, badFrame("%s: name longer than %d bytes", w.Op, maxNameLen)
	}
	switch w.Op {
	case "use", "release":
	case "set":
		if w.Key == "" {
			return nil, badFrame("set: key is required")
		}
		v, err := decodeJSON(w.Value)
		if err != nil {
			return nil, badFrame("set %q: value: %v", w.Key, err)
		}
		r.reqs = []sharedobject.Request{{Type: somsg.RequestChange, Key: w.Key, Value: v}}
	case "remove":
		if w.Key == "" {
			return nil, badFrame("remove: key is required")
		}
		r.reqs = []sharedobject.Request{{Type: somsg.RequestRemove, Key: w.Key}}
	case "update":
		set, err := decodeJSON(w.Set)
		if err != nil {
			return nil, badFrame("update: set: %v", err)
		}
		if set != nil {
			obj, ok := set.(amf.Object)
			if !ok {
				return nil, badFrame("update: set must be an object of key: value")
			}
			for _, p := range obj {
				r.reqs = append(r.reqs, sharedobject.Request{Type: somsg.RequestChange, Key: p.Key, Value: p.Value})
			}
		}
		for _, k := range w.Remove {
			if k == "" {
				return nil, badFrame("update: remove: empty key")
			}
			r.reqs = append(r.reqs, sharedobject.Request{Type: somsg.RequestRemove, Key: k})
		}
		if len(r.reqs) == 0 {
			return nil, badFrame("update: nothing to set or remove")
		}
	case "send":
		if w.Handler == "" {
			return nil, badFrame("send: handler is required")
		}
		args := make([]any, 0, len(w.Args))
		for i, a := range w.Args {
			v, err := decodeJSON(a)
			if err != nil {
				return nil, badFrame("send %q: args[%d]: %v", w.Handler, i, err)
			}
			args = append(args, v)
		}
		r.reqs = []sharedobject.Request{{Type: somsg.SendMessage, Handler: w.Handler, Args: args}}
	default:
		return nil, badFrame("unknown op %q (want use, release, set, update, remove, send or ping)", w.Op)
	}
	return r, nil
}

func opName(op string) string {
	if op == "" {
		return "frame"
	}
	return op
}
