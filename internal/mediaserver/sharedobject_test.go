package mediaserver

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/go-cmp/cmp"

	"github.com/shoal-live/shoal/internal/config"
	"github.com/shoal-live/shoal/internal/rtmp"
	"github.com/shoal-live/shoal/internal/rtmp/amf"
	"github.com/shoal-live/shoal/internal/rtmp/somsg"
	"github.com/shoal-live/shoal/internal/sharedobject"
	"github.com/shoal-live/shoal/internal/sharedobject/soclient"
)

// soClient connects an RTMP shared-object client to app on n.
func soClient(t *testing.T, n *testNode, app string, encoding float64) *soclient.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := rtmp.Dial(ctx, n.rtmpURL(app), rtmp.ClientOptions{ObjectEncoding: encoding})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	if c.ObjectEncoding() != encoding {
		t.Fatalf("object encoding = %v, want %v", c.ObjectEncoding(), encoding)
	}
	return soclient.New(c)
}

func use(t *testing.T, c *soclient.Client, name string, persistent bool) *soclient.Object {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	o, err := c.Use(ctx, name, persistent, 256)
	if err != nil {
		t.Fatalf("Use(%s): %v", name, err)
	}
	return o
}

// nextBatch returns the next batch of o that has an event of one of the
// given types, failing after timeout.
func nextBatch(t *testing.T, o *soclient.Object, timeout time.Duration, types ...somsg.EventType) soclient.Batch {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case b := <-o.Batches():
			for _, ev := range b.Events {
				for _, typ := range types {
					if ev.Type == typ {
						return b
					}
				}
			}
		case <-deadline:
			t.Fatalf("no batch with %v within %s", types, timeout)
		}
	}
}

func drain(o *soclient.Object) {
	for {
		select {
		case <-o.Batches():
		default:
			return
		}
	}
}

// wsClient is a WebSocket shared-object client speaking the JSON protocol.
type wsClient struct {
	t      *testing.T
	ws     *websocket.Conn
	frames chan map[string]any
	err    error // the read error that ended frames; set before frames closes
}

func wsDial(t *testing.T, n *testNode, scope string) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, fmt.Sprintf("ws://%s/so/%s", n.HTTPAddr(), scope), nil)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		t.Fatalf("websocket dial: %v", err)
	}
	c := &wsClient{t: t, ws: ws, frames: make(chan map[string]any, 256)}
	go func() {
		defer close(c.frames)
		for {
			_, b, err := ws.Read(context.Background())
			if err != nil {
				c.err = err
				return
			}
			var m map[string]any
			if json.Unmarshal(b, &m) == nil {
				c.frames <- m
			}
		}
	}()
	t.Cleanup(func() { ws.CloseNow() })
	return c
}

func (c *wsClient) send(m map[string]any) {
	c.t.Helper()
	b, _ := json.Marshal(m)
	if err := c.ws.Write(context.Background(), websocket.MessageText, b); err != nil {
		c.t.Fatalf("websocket write: %v", err)
	}
}

// next returns the next frame with an event of one of the given types.
func (c *wsClient) next(timeout time.Duration, types ...string) map[string]any {
	c.t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case m, ok := <-c.frames:
			if !ok {
				c.t.Fatalf("websocket closed while waiting for %v", types)
			}
			evs, _ := m["events"].([]any)
			for _, e := range evs {
				typ := e.(map[string]any)["type"]
				for _, want := range types {
					if typ == want {
						return m
					}
				}
			}
			if m["ev"] == "error" {
				for _, want := range types {
					if want == "error" {
						return m
					}
				}
			}
		case <-deadline:
			c.t.Fatalf("no websocket frame with %v within %s", types, timeout)
		}
	}
}

func eventOf(m map[string]any, typ string) map[string]any {
	for _, e := range m["events"].([]any) {
		if em := e.(map[string]any); em["type"] == typ {
			return em
		}
	}
	return nil
}

func ball(x, y float64) amf.Object {
	return amf.Object{{Key: "x", Value: x}, {Key: "y", Value: y}}
}

func TestE2ESharedObjectsRTMPAndWebSocket(t *testing.T) {
	n := startNode(t, nil)
	a := use(t, soClient(t, n, "SOSample", 0), "BallControl", false) // AMF0, as the Flash demo
	b := use(t, soClient(t, n, "SOSample", 3), "BallControl", false) // AMF3
	ws := wsDial(t, n, "SOSample")
	ws.send(map[string]any{"op": "use", "name": "BallControl"})
	ws.next(5*time.Second, "use_success")
	drain(a)
	drain(b)

	const wait = 5 * time.Second
	// Set: Success to the requester, Change to the others.
	if err := a.Set("ballCoordinates", ball(100, 200)); err != nil {
		t.Fatal(err)
	}
	nextBatch(t, a, wait, somsg.Success)
	bb := nextBatch(t, b, wait, somsg.Change)
	wm := ws.next(wait, "change")
	if got, _ := b.Get("ballCoordinates"); !amf.Equal(got, ball(100, 200)) {
		t.Errorf("AMF3 client sees %v, want {x:100 y:200}", got)
	}
	if diff := cmp.Diff(map[string]any{"x": 100.0, "y": 200.0}, eventOf(wm, "change")["value"]); diff != "" {
		t.Errorf("websocket change value (-want +got):\n%s", diff)
	}
	if wv := uint32(wm["version"].(float64)); wv != bb.Version {
		t.Errorf("websocket version %d, RTMP version %d: want equal", wv, bb.Version)
	}

	// The same value again: Success, and no Change for the others.
	if err := a.Set("ballCoordinates", ball(100, 200)); err != nil {
		t.Fatal(err)
	}
	nextBatch(t, a, wait, somsg.Success)
	// A nested edit is a change.
	if err := a.Set("ballCoordinates", ball(100, 201)); err != nil {
		t.Fatal(err)
	}
	got := nextBatch(t, b, wait, somsg.Change)
	if v := got.Events[0].Value; !amf.Equal(v, ball(100, 201)) {
		t.Errorf("after nested edit the AMF3 client got %v (an equal write must not produce a Change)", v)
	}
	ws.next(wait, "change")

	// The WebSocket client writes; the RTMP clients see it.
	ws.send(map[string]any{"op": "set", "name": "BallControl", "key": "ballCoordinates", "value": map[string]any{"x": 7, "y": 8}})
	ws.next(wait, "success")
	nextBatch(t, a, wait, somsg.Change)
	if got, _ := a.Get("ballCoordinates"); !amf.Equal(got, ball(7, 8)) {
		t.Errorf("AMF0 client sees %v after the websocket write, want {x:7 y:8}", got)
	}

	// Remove.
	if err := b.Set("other", "x"); err != nil {
		t.Fatal(err)
	}
	nextBatch(t, a, wait, somsg.Change)
	if err := b.Remove("other"); err != nil {
		t.Fatal(err)
	}
	nextBatch(t, b, wait, somsg.Remove)
	nextBatch(t, a, wait, somsg.Remove)
	ws.next(wait, "remove")
	if _, ok := a.Get("other"); ok {
		t.Error("removed key still present at the AMF0 client")
	}

	// Send reaches everyone, the sender too.
	if err := a.Send("newMessage", "hi"); err != nil {
		t.Fatal(err)
	}
	for _, o := range []*soclient.Object{a, b} {
		ev := nextBatch(t, o, wait, somsg.SendMessage).Events[0]
		if ev.Handler != "newMessage" || len(ev.Args) != 1 || ev.Args[0] != "hi" {
			t.Errorf("SendMessage = %+v, want newMessage(hi)", ev)
		}
	}
	msg := eventOf(ws.next(wait, "message"), "message")
	if msg["handler"] != "newMessage" || !cmp.Equal(msg["args"], []any{"hi"}) {
		t.Errorf("websocket message = %v", msg)
	}

	// Server-side clear: every client loses every key.
	h := n.objects.Object(sharedobject.ObjectID{Scope: "SOSample", Name: "BallControl"})
	if err := h.Clear(context.Background()); err != nil {
		t.Fatal(err)
	}
	nextBatch(t, a, wait, somsg.Remove, somsg.Clear)
	nextBatch(t, b, wait, somsg.Remove, somsg.Clear)
	checkFor(t, wait, 20*time.Millisecond, func() error {
		if d := a.Data(); len(d) != 0 {
			return fmt.Errorf("AMF0 client data after clear: %v", d)
		}
		return nil
	})
	if got := h.Attributes(); len(got) != 0 {
		t.Errorf("server attributes after clear: %v", got)
	}
}

func TestE2ESharedObjectPersistsAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := func(c *config.Node) { c.Node.DataDir = dir }
	ctx, cancel := context.WithCancel(context.Background())
	n := startNodeCtx(t, ctx, cfg)
	o := use(t, soClient(t, n, "game/room1", 0), "scores", true)
	if err := o.Set("alice", 3.0); err != nil {
		t.Fatal(err)
	}
	nextBatch(t, o, 5*time.Second, somsg.Success)
	cancel()
	n.wait(t)

	n2 := startNode(t, cfg)
	o2 := use(t, soClient(t, n2, "game/room1", 3), "scores", true)
	if v, ok := o2.Get("alice"); !ok || v != 3.0 {
		t.Fatalf("after restart alice = %v (present %v), want 3", v, ok)
	}
	if o2.Version() < o.Version() {
		t.Errorf("version after restart %d < before %d", o2.Version(), o.Version())
	}
}

func TestE2ETransientObjectDroppedAfterLinger(t *testing.T) {
	n := startNode(t, func(c *config.Node) { c.SharedObjects.Linger = 300 * time.Millisecond })
	c := soClient(t, n, "SOSample", 0)
	o := use(t, c, "BallControl", false)
	if err := o.Set("ballCoordinates", ball(1, 2)); err != nil {
		t.Fatal(err)
	}
	nextBatch(t, o, 5*time.Second, somsg.Success)
	if err := o.Release(); err != nil {
		t.Fatal(err)
	}
	id := sharedobject.ObjectID{Scope: "SOSample", Name: "BallControl"}
	checkFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		for _, l := range n.objects.Loaded() {
			if l == id {
				return fmt.Errorf("%v still loaded", id)
			}
		}
		return nil
	})
	o2 := use(t, soClient(t, n, "SOSample", 0), "BallControl", false)
	if d := o2.Data(); len(d) != 0 {
		t.Errorf("a new client of the dropped object sees %v, want an empty object", d)
	}
}

// denySend is a Security that refuses sends to the handler "secret".
type denySend struct{ sharedobject.AllowAll }

func (denySend) SendAllowed(_ sharedobject.ObjectID, handler string, _ []any, _ sharedobject.ConnInfo) bool {
	return handler != "secret"
}

func TestE2ESharedObjectSecurity(t *testing.T) {
	n := startNode(t, func(c *config.Node) {
		c.SharedObjects.Policy = []config.SORule{
			{Scope: "locked", Names: []string{"open*", "config", "fixed"}, ReadOnly: []string{"config"}, Create: []string{"open*", "config"}},
		}
	})
	if err := n.objects.AddSecurity("**", denySend{}); err != nil {
		t.Fatal(err)
	}
	c := soClient(t, n, "locked", 0)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	if _, err := c.Use(ctx, "private", false, 16); !soclient.IsStatus(err, somsg.CodeNoReadAccess) {
		t.Errorf("Use(private) = %v, want NoReadAccess", err)
	}
	if _, err := c.Use(ctx, "fixed", false, 16); !soclient.IsStatus(err, somsg.CodeObjectCreationFailed) {
		t.Errorf("Use(fixed) = %v, want ObjectCreationFailed", err)
	}
	cfgObj := use(t, c, "config", false)
	if err := cfgObj.Set("k", 1.0); err != nil {
		t.Fatal(err)
	}
	st := nextBatch(t, cfgObj, 5*time.Second, somsg.Status).Events[0]
	if st.Code != somsg.CodeNoWriteAccess || st.Level != "error" {
		t.Errorf("write to read-only = %+v, want NoWriteAccess error", st)
	}
	open := use(t, c, "open1", false)
	if err := open.Remove("nothing"); err != nil {
		t.Fatal(err)
	}
	nextBatch(t, open, 5*time.Second, somsg.Remove) // removal allowed on a writable object
	if _, err := c.Use(ctx, "open1", true, 16); err == nil {
		t.Error("second Use of open1 on one connection succeeded")
	}
	other := soClient(t, n, "locked", 3)
	if _, err := other.Use(ctx, "open1", true, 16); !soclient.IsStatus(err, somsg.CodeBadPersistence) {
		t.Errorf("Use(open1, persistent) = %v, want BadPersistence", err)
	}
	// A denied send is silent; an allowed one after it arrives.
	if err := open.Send("secret", "x"); err != nil {
		t.Fatal(err)
	}
	if err := open.Send("public", "y"); err != nil {
		t.Fatal(err)
	}
	ev := nextBatch(t, open, 5*time.Second, somsg.SendMessage, somsg.Status).Events[0]
	if ev.Type != somsg.SendMessage || ev.Handler != "public" {
		t.Errorf("first event after a denied send = %+v, want the public message", ev)
	}
}

func TestE2EWebSocketBadFrames(t *testing.T) {
	n := startNode(t, nil)
	good := wsDial(t, n, "SOSample")
	good.send(map[string]any{"op": "use", "name": "BallControl"})
	good.next(5*time.Second, "use_success")

	for _, bad := range []string{`{"op":`, `{"op":"use"}`, `{"op":"fly","name":"x"}`, `{"op":"set","name":"x","key":"k","value":{"$date":"no"}}`, `[1,2]`, `{"op":"use","name":"x","extra":1}`} {
		ws := wsDial(t, n, "SOSample")
		if err := ws.ws.Write(context.Background(), websocket.MessageText, []byte(bad)); err != nil {
			t.Fatal(err)
		}
		select {
		case _, ok := <-ws.frames:
			if ok {
				t.Errorf("frame %s: got a reply, want the connection closed", bad)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("frame %s: connection still open", bad)
		}
		if status := websocket.CloseStatus(ws.err); status != websocket.StatusInvalidFramePayloadData {
			t.Errorf("frame %s: close status %v (%v), want 1007", bad, status, ws.err)
		}
	}
	// A semantic mistake gets an error frame and the connection stays.
	good.send(map[string]any{"op": "set", "name": "NotUsed", "key": "k", "value": 1})
	if e := good.next(5*time.Second, "error"); !strings.Contains(fmt.Sprint(e["error"]), "not using") {
		t.Errorf("error frame = %v", e)
	}
	good.send(map[string]any{"op": "set", "name": "BallControl", "key": "k", "value": 1})
	good.next(5*time.Second, "success")
}
