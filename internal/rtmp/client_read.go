package rtmp

import (
	"fmt"
	"net"

	"github.com/shoal-live/shoal/internal/flv"
	"github.com/shoal-live/shoal/internal/rtmp/chunk"
	"github.com/shoal-live/shoal/internal/rtmp/message"
)

// readLoop reads from the server until the connection fails or closes.
func (c *ClientConn) readLoop() {
	defer close(c.readDone)
	err := c.read()
	c.mu.Lock()
	c.mu.err = fmt.Errorf("rtmp: connection closed: %w", err)
	c.mu.Unlock()
	c.closeOnce.Do(func() {
		close(c.closing)
		_ = c.nc.Close()
	})
	c.logger.Debug("client connection closed", "reason", err.Error())
}

// read reads and dispatches messages.
func (c *ClientConn) read() error {
	var m chunk.Message
	for {
		if err := c.r.ReadInto(&m); err != nil {
			return err
		}
		if err := c.handle(&m); err != nil {
			return err
		}
		if n := c.r.BytesRead(); c.ackWindow != 0 && n-c.lastAck >= uint64(c.ackWindow) {
			c.lastAck = n
			if err := c.writeMessages(&message.Acknowledgement{SequenceNumber: uint32(n)}); err != nil {
				return err
			}
		}
	}
}

// handle dispatches one message from the server.
func (c *ClientConn) handle(m *chunk.Message) error {
	switch m.TypeID {
	case message.TypeAudio, message.TypeVideo, message.TypeDataAMF0, message.TypeDataAMF3:
		return c.onMedia(m.StreamID, m.TypeID, m.Timestamp, m.Body)
	case message.TypeAggregate:
		var err error
		if aerr := splitAggregate(m.Body, m.Timestamp, func(typeID uint8, ts uint32, payload []byte) {
			if err == nil && isMediaType(typeID) {
				err = c.onMedia(m.StreamID, typeID, ts, payload)
			}
		}); aerr != nil {
			return aerr
		}
		return err
	}
	msg, err := message.Decode(m)
	if err != nil {
		return err
	}
	switch msg := msg.(type) {
	case *message.SetChunkSize:
		return c.r.SetChunkSize(msg.Size)
	case *message.Abort:
		c.r.Abort(msg.ChunkStreamID)
	case *message.WindowAckSize:
		c.ackWindow = msg.Size
	case *message.UserControl:
		switch msg.Event {
		case message.UserControlPingRequest:
			return c.writeMessages(&message.UserControl{Event: message.UserControlPingResponse, Timestamp: msg.Timestamp})
		case message.UserControlStreamEOF:
			if msg.StreamID == c.playSID.Load() {
				return c.endOfStream()
			}
		}
	case *message.CommandAMF0:
		return c.onCommand(m.StreamID, msg.Name, msg.TransactionID, msg.Object, msg.Args)
	case *message.CommandAMF3:
		return c.onCommand(m.StreamID, msg.Name, msg.TransactionID, msg.Object, msg.Args)
	case *message.SharedObject:
		c.mu.Lock()
		f := c.mu.onSO
		c.mu.Unlock()
		if f != nil {
			f(msg.Body)
		}
	default:
	}
	return nil
}

// onCommand handles answers to calls and onStatus notifications.
func (c *ClientConn) onCommand(sid uint32, name string, txid float64, obj any, args []any) error {
	switch name {
	case "_result", "_error":
		c.mu.Lock()
		ch := c.mu.calls[txid]
		c.mu.Unlock()
		if ch != nil {
			select {
			case ch <- callResult{name: name, obj: obj, args: args}:
			default:
			}
		}
	case "onStatus":
		s, ok := parseStatus(firstArg(args))
		if !ok {
			return nil
		}
		c.mu.Lock()
		ch := c.mu.statuses[sid]
		c.mu.Unlock()
		if ch != nil {
			select {
			case ch <- s:
			default:
			}
		}
		if sid == c.playSID.Load() && (s.Code == CodePlayUnpublish || s.Code == CodePlayStop) {
			return c.endOfStream()
		}
	default:
		c.logger.Debug("server command ignored", "command", name)
	}
	return nil
}

// onMedia queues a packet of the played stream for ReadPacket.
func (c *ClientConn) onMedia(sid uint32, typeID uint8, ts uint32, body []byte) error {
	if sid == 0 || sid != c.playSID.Load() {
		return nil
	}
	if typeID == message.TypeDataAMF0 || typeID == message.TypeDataAMF3 {
		payload, _ := dataPayload(typeID, body)
		if _, ok := amf0StringPrefix(payload, "|RtmpSampleAccess"); ok {
			return nil
		}
		if _, ok := amf0StringPrefix(payload, "onStatus"); ok {
			return nil
		}
	}
	p, ok := newPacket(typeID, ts, body)
	if !ok {
		return nil
	}
	c.sawEOF = false
	return c.queue(p)
}

// endOfStream queues the end-of-stream marker once per end.
func (c *ClientConn) endOfStream() error {
	if c.sawEOF {
		return nil
	}
	c.sawEOF = true
	return c.queue(nil)
}

// queue hands a packet (nil: end of stream) to ReadPacket, waiting while
// the queue is full; Close ends the wait.
func (c *ClientConn) queue(p *flv.Packet) error {
	select {
	case c.pkts <- p:
		return nil
	case <-c.closing:
		return net.ErrClosed
	}
}
