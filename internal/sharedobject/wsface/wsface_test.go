package wsface

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/shoal-live/shoal/internal/rtmp/somsg"
	"github.com/shoal-live/shoal/internal/sharedobject"
)

// failingLog is a Manager stand-in whose log is unavailable: uses succeed,
// writes fail as they do while a NATS stream has no leader.
type failingLog struct{}

func (failingLog) Use(_ context.Context, id sharedobject.ObjectID, l sharedobject.Listener, _ sharedobject.ConnInfo) error {
	l.Deliver(id, 1, []sharedobject.Event{{Type: somsg.UseSuccess}})
	return nil
}

func (failingLog) Release(sharedobject.ObjectID, sharedobject.Listener) {}

func (failingLog) Submit(context.Context, sharedobject.ObjectID, sharedobject.Listener, sharedobject.ConnInfo, []sharedobject.Request) error {
	return errors.New("append: nats: no response from stream")
}

func TestSubmitFailureKeepsConnection(t *testing.T) {
	srv := httptest.NewServer(New(failingLog{}, slog.New(slog.DiscardHandler)))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/so/app", nil)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer ws.CloseNow()
	roundTrip := func(req, wantEv string) map[string]any {
		t.Helper()
		if err := ws.Write(ctx, websocket.MessageText, []byte(req)); err != nil {
			t.Fatalf("write %s: %v", req, err)
		}
		_, b, err := ws.Read(ctx)
		if err != nil {
			t.Fatalf("after %s: read: %v", req, err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("frame %s: %v", b, err)
		}
		if m["ev"] != wantEv {
			t.Fatalf("after %s got %s, want ev %q", req, b, wantEv)
		}
		return m
	}
	roundTrip(`{"op":"use","name":"o"}`, "batch")
	e := roundTrip(`{"op":"set","name":"o","key":"k","value":1}`, "error")
	if e["op"] != "set" || !strings.Contains(e["error"].(string), "no response from stream") {
		t.Errorf("error frame = %v, want the set's failure", e)
	}
	roundTrip(`{"op":"ping"}`, "pong") // still open
}

// burstObjects is a Manager stand-in that delivers a burst of n batches
// when an object is used, as a node applying a backlog does.
type burstObjects struct {
	failingLog
	n int
}

func (b burstObjects) Use(_ context.Context, id sharedobject.ObjectID, l sharedobject.Listener, _ sharedobject.ConnInfo) error {
	l.Deliver(id, 1, []sharedobject.Event{{Type: somsg.UseSuccess}})
	for i := range b.n {
		l.Deliver(id, uint64(i+2), []sharedobject.Event{{Type: somsg.Change, Key: "k", Value: float64(i)}})
	}
	return nil
}

// TestBurstKeepsConnection queues many more frames than the client can
// have read: a client that reads gets them all and stays connected.
func TestBurstKeepsConnection(t *testing.T) {
	const n = 20000
	srv := httptest.NewServer(New(burstObjects{n: n}, slog.New(slog.DiscardHandler)))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/so/app", nil)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer ws.CloseNow()
	if err := ws.Write(ctx, websocket.MessageText, []byte(`{"op":"use","name":"o"}`)); err != nil {
		t.Fatalf("write use: %v", err)
	}
	for i := range n + 1 {
		if _, _, err := ws.Read(ctx); err != nil {
			t.Fatalf("read frame %d of %d: %v", i, n+1, err)
		}
	}
	if err := ws.Write(ctx, websocket.MessageText, []byte(`{"op":"ping"}`)); err != nil {
		t.Fatalf("write ping: %v", err)
	}
	if _, b, err := ws.Read(ctx); err != nil || !strings.Contains(string(b), "pong") {
		t.Fatalf("after the burst: read %s, %v; want pong", b, err)
	}
}
