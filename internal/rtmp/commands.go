package rtmp

import (
	"context"
	"errors"
	"fmt"

	"github.com/shoal-live/shoal/internal/rtmp/amf"
	"github.com/shoal-live/shoal/internal/rtmp/message"
)

// fmsVer is the server version reported to clients; some clients check
// for an FMS-like string.
const fmsVer = "FMS/3,5,7,7009"

// command is a decoded AMF0 or AMF3 command.
type command struct {
	csid     uint32
	streamID uint32
	name     string
	txid     float64
	obj      any
	args     []any
}

// arg returns argument i of cmd, or nil.
func (cmd *command) arg(i int) any {
	if i < len(cmd.args) {
		return cmd.args[i]
	}
	return nil
}

// stringArg returns argument i of cmd if it is a string.
func (cmd *command) stringArg(i int) string {
	s, _ := cmd.arg(i).(string)
	return s
}

// numberArg returns argument i of cmd if it is a number, else def.
func (cmd *command) numberArg(i int, def float64) float64 {
	switch v := cmd.arg(i).(type) {
	case float64:
		return v
	case int32:
		return float64(v)
	}
	return def
}

// onCommand dispatches a command. Errors end the connection, so only
// protocol violations return one; refused requests are answered.
func (c *ServerConn) onCommand(ctx context.Context, cmd command) error {
	if !c.connected && cmd.name != "connect" {
		return fmt.Errorf("command %q before connect", cmd.name)
	}
	switch cmd.name {
	case "connect":
		return c.onConnect(cmd)
	case "createStream":
		return c.onCreateStream(cmd)
	case "releaseStream", "FCSubscribe", "FCUnsubscribe":
		return c.result(cmd, nil, amf.Undefined{})
	case "FCPublish":
		return c.onFCPublish(cmd, "onFCPublish", CodePublishStart)
	case "FCUnpublish":
		return c.onFCPublish(cmd, "onFCUnpublish", CodeUnpublishSuccess)
	case "publish":
		return c.onPublish(cmd)
	case "play":
		return c.onPlay(ctx, cmd)
	case "pause", "pauseRaw":
		return c.onPause(ctx, cmd)
	case "seek":
		return c.onSeek(cmd)
	case "deleteStream":
		sid := uint32(cmd.numberArg(0, 0))
		if st := c.streams[sid]; st != nil {
			st.stop()
			delete(c.streams, sid)
		}
		return nil
	case "closeStream":
		if st := c.streams[cmd.streamID]; st != nil && st.stop() {
			return c.onStatus(st, LevelStatus, CodeUnpublishSuccess, st.Name()+" is now unpublished.")
		}
		return nil
	case "getStreamLength":
		return c.result(cmd, nil, 0.0)
	case "receiveAudio", "receiveVideo":
		// Accepted; a live subscription delivers both.
		return nil
	case "_result", "_error", "onStatus", "onBWDone", "_onbwcheck", "_onbwdone":
		// Answers to calls this server does not make.
		return nil
	default:
		if cmd.txid == 0 {
			c.logger.Debug("unknown notification ignored", "command", cmd.name)
			return nil
		}
		c.logger.Debug("unknown command refused", "command", cmd.name)
		return c.callFailed(cmd, "Method not found ("+cmd.name+")")
	}
}

// commandMessage builds a command in the connection's object encoding.
func (c *ServerConn) commandMessage(csid, streamID uint32, name string, txid float64, obj any, args ...any) message.Message {
	if c.objectEncoding == 3 {
		return &message.CommandAMF3{ChunkStreamID: csid, StreamID: streamID, Name: name, TransactionID: txid, Object: obj, Args: args}
	}
	return &message.CommandAMF0{ChunkStreamID: csid, StreamID: streamID, Name: name, TransactionID: txid, Object: obj, Args: args}
}

// result answers cmd with _result, unless it expects no answer.
func (c *ServerConn) result(cmd command, obj any, args ...any) error {
	if cmd.txid == 0 {
		return nil
	}
	return c.writeMessages(c.commandMessage(cmd.csid, cmd.streamID, "_result", cmd.txid, obj, args...))
}

// callFailed answers cmd with _error NetConnection.Call.Failed.
func (c *ServerConn) callFailed(cmd command, description string) error {
	return c.writeMessages(c.commandMessage(cmd.csid, cmd.streamID, "_error", cmd.txid, nil,
		statusInfo(LevelError, CodeCallFailed, description)))
}

// statusMessage builds an onStatus command on stream st.
func (c *ServerConn) statusMessage(st *ServerStream, level, code, description string) message.Message {
	extra := []amf.Property{{Key: "clientid", Value: c.id}}
	if st.path.name != "" {
		extra = append(extra, amf.Property{Key: "details", Value: st.path.name})
	}
	return c.commandMessage(csidStatus, st.id, "onStatus", 0, nil, statusInfo(level, code, description, extra...))
}

// onStatus sends an onStatus command on stream st.
func (c *ServerConn) onStatus(st *ServerStream, level, code, description string) error {
	return c.writeMessages(c.statusMessage(st, level, code, description))
}

// streamControl builds a user control event about stream st.
func streamControl(event uint16, st *ServerStream) message.Message {
	return &message.UserControl{Event: event, StreamID: st.id}
}

// onConnect handles connect: records the connect fields, asks the handler,
// and answers with the protocol settings and _result, or _error.
func (c *ServerConn) onConnect(cmd command) error {
	if c.connected {
		return c.callFailed(cmd, "already connected")
	}
	obj, _ := properties(cmd.obj)
	c.connectObject = obj
	c.connectArgs = cmd.args
	c.tcURL = stringProp(obj, "tcUrl")
	c.scopePath, c.query = appPath(stringProp(obj, "app"))
	if c.query == "" {
		if _, q := splitQuery(c.tcURL); q != "" {
			c.query = q
		}
	}
	c.app = firstSegment(c.scopePath)
	if oe, ok := lookup(obj, "objectEncoding").(float64); ok && oe == 3 {
		c.objectEncoding = 3
	}
	if err := c.handler.Connect(c); err != nil {
		werr := c.writeMessages(c.commandMessage(cmd.csid, 0, "_error", cmd.txid, nil,
			statusInfo(LevelError, CodeConnectRejected, err.Error())))
		return errors.Join(fmt.Errorf("%w: %w", errRejected, err), werr)
	}
	c.connected = true
	c.logger.Info("client connected", "app", c.scopePath, "object_encoding", c.objectEncoding,
		"flash_ver", stringProp(obj, "flashVer"))
	props := amf.Object{
		{Key: "fmsVer", Value: fmsVer},
		{Key: "capabilities", Value: 31.0},
		{Key: "mode", Value: 1.0},
	}
	info := statusInfo(LevelStatus, CodeConnectSuccess, "Connection succeeded.",
		amf.Property{Key: "objectEncoding", Value: c.objectEncoding})
	return c.writeMessages(
		&message.WindowAckSize{Size: c.cfg.windowAckSize},
		&message.SetPeerBandwidth{Size: c.cfg.windowAckSize, Limit: message.LimitDynamic},
		&message.SetChunkSize{Size: c.cfg.chunkSize},
		c.commandMessage(cmd.csid, 0, "_result", cmd.txid, props, info),
	)
}

// stream returns the stream with message stream id sid, creating it for
// clients that publish or play without createStream. It returns nil when
// the connection has too many streams.
func (c *ServerConn) stream(sid uint32) *ServerStream {
	if st := c.streams[sid]; st != nil {
		return st
	}
	if len(c.streams) >= maxStreamsPerConn {
		return nil
	}
	st := &ServerStream{conn: c, id: sid}
	c.streams[sid] = st
	c.nextSID = max(c.nextSID, sid)
	return st
}

// onCreateStream answers createStream with a new message stream id.
func (c *ServerConn) onCreateStream(cmd command) error {
	if len(c.streams) >= maxStreamsPerConn {
		return c.callFailed(cmd, fmt.Sprintf("too many streams (limit %d)", maxStreamsPerConn))
	}
	c.nextSID++
	st := c.stream(c.nextSID)
	return c.result(cmd, nil, float64(st.id))
}

// onFCPublish answers FCPublish and FCUnpublish as nginx-rtmp does (an
// onFCPublish/onFCUnpublish notification) and with a _result for clients
// that wait for one.
func (c *ServerConn) onFCPublish(cmd command, notify, code string) error {
	name := cmd.stringArg(0)
	info := amf.Object{
		{Key: "level", Value: LevelStatus},
		{Key: "code", Value: code},
		{Key: "description", Value: name},
	}
	msgs := []message.Message{c.commandMessage(cmd.csid, 0, notify, 0, nil, info)}
	if cmd.txid != 0 {
		msgs = append(msgs, c.commandMessage(cmd.csid, cmd.streamID, "_result", cmd.txid, nil, amf.Undefined{}))
	}
	return c.writeMessages(msgs...)
}

// onPublish starts publishing on the command's stream.
func (c *ServerConn) onPublish(cmd command) error {
	name := cmd.stringArg(0)
	st := c.stream(cmd.streamID)
	if st == nil {
		return c.onStatus(&ServerStream{conn: c, id: cmd.streamID}, LevelError, CodePublishFailed, "too many streams")
	}
	if st.busy() {
		return c.onStatus(st, LevelError, CodePublishBadName, "stream is busy")
	}
	sp, ok := parseStreamPath(c.scopePath, name)
	st.path = sp
	if !ok {
		return c.onStatus(st, LevelError, CodePublishBadName, fmt.Sprintf("invalid stream name %q", name))
	}
	st.PublishType = cmd.stringArg(1)
	if st.PublishType == "" {
		st.PublishType = "live"
	}
	pub, err := c.handler.Publish(c, st)
	if err != nil {
		code := CodePublishFailed
		if errors.Is(err, ErrStreamTaken) {
			code = CodePublishBadName
		}
		c.logger.Info("publish refused", "stream", st.Path(), "reason", err.Error())
		return c.onStatus(st, LevelError, code, err.Error())
	}
	st.pub = pub
	c.logger.Info("publish started", "stream", st.Path(), "type", st.PublishType)
	return c.writeMessages(
		streamControl(message.UserControlStreamBegin, st),
		c.statusMessage(st, LevelStatus, CodePublishStart, st.Path()+" is now published."),
	)
}

// onPlay starts playing on the command's stream.
func (c *ServerConn) onPlay(ctx context.Context, cmd command) error {
	name := cmd.stringArg(0)
	st := c.stream(cmd.streamID)
	if st == nil {
		return c.onStatus(&ServerStream{conn: c, id: cmd.streamID}, LevelError, CodePlayFailed, "too many streams")
	}
	if st.pub != nil {
		return c.onStatus(st, LevelError, CodePlayFailed, "stream is publishing")
	}
	st.stopPlay() // play on a playing stream switches to the new name
	st.paused = false
	sp, ok := parseStreamPath(c.scopePath, name)
	st.path = sp
	if !ok {
		return c.onStatus(st, LevelError, CodePlayStreamNotFound, fmt.Sprintf("invalid stream name %q", name))
	}
	st.Start = cmd.numberArg(1, -2)
	st.Duration = cmd.numberArg(2, -1)
	reset := true
	switch v := cmd.arg(3).(type) {
	case bool:
		reset = v
	case float64:
		reset = v != 0
	}
	st.writeMerge = c.cfg.writeMerge
	src, err := c.handler.Play(c, st)
	if err != nil {
		code := CodePlayFailed
		if errors.Is(err, ErrStreamNotFound) {
			code = CodePlayStreamNotFound
		}
		c.logger.Info("play refused", "stream", st.Path(), "reason", err.Error())
		return c.onStatus(st, LevelError, code, err.Error())
	}
	msgs := make([]message.Message, 0, 4)
	msgs = append(msgs, streamControl(message.UserControlStreamBegin, st))
	if reset {
		msgs = append(msgs, c.statusMessage(st, LevelStatus, CodePlayReset, "Playing and resetting "+st.Path()+"."))
	}
	msgs = append(msgs,
		c.statusMessage(st, LevelStatus, CodePlayStart, "Started playing "+st.Path()+"."),
		&message.DataAMF0{ChunkStreamID: csidData, StreamID: st.id, Values: []any{"|RtmpSampleAccess", true, true}},
	)
	if err := c.writeMessages(msgs...); err != nil {
		src.Close()
		return err
	}
	c.logger.Info("play started", "stream", st.Path())
	c.startPlay(ctx, st, src)
	return nil
}

// onPause pauses or resumes a live play. Pausing ends the subscription;
// resuming subscribes again, so the player restarts at a keyframe of the
// live stream (a live stream cannot be resumed where it was paused).
func (c *ServerConn) onPause(ctx context.Context, cmd command) error {
	st := c.streams[cmd.streamID]
	if st == nil || (st.play == nil && !st.paused) {
		return nil
	}
	pause, ok := cmd.arg(0).(bool)
	if !ok {
		pause = !st.paused // pauseRaw and odd clients: toggle
	}
	if pause {
		if st.paused {
			return nil
		}
		st.stopPlay()
		st.paused = true
		return c.onStatus(st, LevelStatus, CodePauseNotify, "Pausing "+st.Path()+".")
	}
	if !st.paused {
		return nil
	}
	st.paused = false
	st.writeMerge = c.cfg.writeMerge
	src, err := c.handler.Play(c, st)
	if err != nil {
		code := CodePlayFailed
		if errors.Is(err, ErrStreamNotFound) {
			code = CodePlayStreamNotFound
		}
		return c.onStatus(st, LevelError, code, err.Error())
	}
	if err := c.writeMessages(
		streamControl(message.UserControlStreamBegin, st),
		c.statusMessage(st, LevelStatus, CodeUnpauseNotify, "Unpausing "+st.Path()+"."),
	); err != nil {
		src.Close()
		return err
	}
	c.startPlay(ctx, st, src)
	return nil
}

// onSeek answers seek on a live stream: there is nowhere to seek to, so the
// server answers NetStream.Seek.Notify (Flash players wait for it) and
// keeps delivering the live stream. A seek on a stream that does not play
// gets NetStream.Seek.Failed.
func (c *ServerConn) onSeek(cmd command) error {
	st := c.streams[cmd.streamID]
	if st == nil || st.play == nil {
		if st == nil {
			st = &ServerStream{conn: c, id: cmd.streamID}
		}
		return c.onStatus(st, LevelError, CodeSeekFailed, "seek on a stream that does not play")
	}
	ms := cmd.numberArg(0, 0)
	return c.onStatus(st, LevelStatus, CodeSeekNotify, fmt.Sprintf("Seeking %.0f (stream ID: %d).", ms, st.id))
}
