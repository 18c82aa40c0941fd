package console

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/shoal-live/shoal/internal/agentapi"
	"github.com/shoal-live/shoal/internal/cluster"
	"github.com/shoal-live/shoal/internal/cluster/clustertest"
	"github.com/shoal-live/shoal/internal/rtmp/amf"
	"github.com/shoal-live/shoal/internal/sharedobject"
	"github.com/shoal-live/shoal/internal/sharedobject/jetlog"
	"github.com/shoal-live/shoal/internal/store"
)

// soNode is a media node's shared-object half: a cluster connection and a
// sharedobject.Manager on it, as shoal-node wires them.
type soNode struct {
	m *sharedobject.Manager
}

func startSONode(t *testing.T, natsURL, id string) *soNode {
	t.Helper()
	cl, err := cluster.New(cluster.Config{URL: natsURL, Name: id, PresenceTTL: 2 * time.Second}, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(t.Context()))
	if err := cl.Start(ctx); err != nil {
		cancel()
		t.Fatalf("cluster.Start: %v", err)
	}
	m := sharedobject.New(sharedobject.Config{NodeID: id, Linger: 100 * time.Millisecond, SnapshotEvery: 5},
		jetlog.NewLog(cl.ObjectLog()), jetlog.NewPresence(cl.Presence()), testLogger())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := cl.Run(ctx); err != nil {
			t.Errorf("cluster.Run: %v", err)
		}
	})
	wg.Go(func() {
		if err := m.Run(ctx); err != nil {
			t.Errorf("sharedobject Run: %v", err)
		}
	})
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	return &soNode{m: m}
}

const (
	ballKey = "so.t.SOSample.BallControl"
	chatKey = "so.p.live.room1.chat"
)

func findObject(s snapshotJSON, key string) (objectJSON, bool) {
	i := slices.IndexFunc(s.Objects.Objects, func(o objectJSON) bool { return o.Key == key })
	if i < 0 {
		return objectJSON{}, false
	}
	return s.Objects.Objects[i], true
}

func TestConsoleSharedObjects(t *testing.T) {
	url := clustertest.StartNATS(t)
	// The console starts before any node has created the streams.
	e := newEnv(t, url)
	s := waitSnapshot(t, e)
	if !s.Objects.Enabled || len(s.Objects.Objects) != 0 {
		t.Fatalf("objects before any node = %+v, want enabled and empty", s.Objects)
	}
	ctx := t.Context()
	if _, err := e.st.CreateNode(ctx, store.Node{Identifier: "node-a", Group: "default", Role: store.RoleEdge, State: store.NodeInService}); err != nil {
		t.Fatal(err)
	}
	node := startSONode(t, url, "node-a")

	ball := node.m.Object(sharedobject.ObjectID{Scope: "SOSample", Name: "BallControl"})
	if err := ball.Hold(ctx); err != nil {
		t.Fatal(err)
	}
	chat := node.m.Object(sharedobject.ObjectID{Scope: "live/room1", Name: "chat", Persistent: true})
	if err := chat.Hold(ctx); err != nil {
		t.Fatal(err)
	}
	defer chat.Release()
	if err := chat.Set(ctx, "topic", "hello"); err != nil {
		t.Fatal(err)
	}

	// Move the ball, and watch the rate rise while it moves.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			if err := ball.Set(ctx, "ballCoordinates", amf.Object{{Key: "x", Value: float64(i)}, {Key: "y", Value: 2.0}}); err != nil {
				t.Errorf("move the ball: %v", err)
				return
			}
		}
	})
	snapshotWhere(t, e, func(s snapshotJSON) error {
		o, ok := findObject(s, ballKey)
		if !ok || o.Rate < 5 || o.Version < 20 || s.Objects.Rate < o.Rate || s.Tick.SORate < o.Rate {
			return fmt.Errorf("ball = %+v (cluster rate %v), want at least 5 changes/s and version 20", o, s.Objects.Rate)
		}
		return nil
	})
	close(stop)
	wg.Wait()

	// The ball stopped: the console shows the node's replica's version and
	// the value, and the rate falls to 0.
	e.con.ObserveSharedObjects("node-a", []agentapi.SharedObjectStat{{Scope: "SOSample", Name: "BallControl", Clients: 2}})
	e.con.ObserveSharedObjects("node-gone", []agentapi.SharedObjectStat{{Scope: "SOSample", Name: "BallControl", Clients: 9}})
	s = snapshotWhere(t, e, func(s snapshotJSON) error {
		o, ok := findObject(s, ballKey)
		if !ok || o.Version != ball.Version() || o.Rate != 0 {
			return fmt.Errorf("ball = %+v, want version %d and rate 0", o, ball.Version())
		}
		if want := []soNodeJSON{{Node: "node-a", Clients: 2}}; !cmp.Equal(o.Nodes, want) {
			return fmt.Errorf("ball nodes = %+v, want %+v (node-gone is not in the store)", o.Nodes, want)
		}
		return nil
	})
	ballJSON, _ := findObject(s, ballKey)
	if ballJSON.App != "SOSample" || ballJSON.Persistent || ballJSON.Attrs != 1 || ballJSON.LastNode != "node-a" {
		t.Errorf("ball = %+v, want app SOSample, transient, 1 attribute, last written by node-a", ballJSON)
	}
	chatJSON, ok := findObject(s, chatKey)
	if !ok || chatJSON.App != "live" || chatJSON.Scope != "live/room1" || chatJSON.Version != 2 || !chatJSON.Persistent {
		t.Errorf("chat = %+v, want app live, scope live/room1, version 2 (use, set), persistent", chatJSON)
	}

	var d objectDetailJSON
	if st := e.call(t, "GET", "/console/api/object?key="+ballKey, testToken, nil, &d); st != http.StatusOK {
		t.Fatalf("object status %d", st)
	}
	x, _ := ball.Get("ballCoordinates")
	wantValue := fmt.Sprintf("{x: %v, y: 2}", x.(amf.Object)[0].Value)
	if len(d.Attributes) != 1 || d.Attributes[0] != (attributeJSON{Key: "ballCoordinates", Type: "object", Value: wantValue, Size: d.Attributes[0].Size}) {
		t.Errorf("attributes = %+v, want ballCoordinates %s", d.Attributes, wantValue)
	}
	if len(d.History) == 0 || d.Nodes[0].Clients != 2 {
		t.Errorf("detail = %+v, want a rate history and 2 clients on node-a", d)
	}
	for _, tc := range []struct {
		key    string
		status int
	}{{"so.t.SOSample.nothing", http.StatusNotFound}, {"x.bad", http.StatusBadRequest}, {"", http.StatusBadRequest}} {
		if st := e.call(t, "GET", "/console/api/object?key="+tc.key, testToken, nil, nil); st != tc.status {
			t.Errorf("object %q status %d, want %d", tc.key, st, tc.status)
		}
	}
	var h historyJSON
	e.call(t, "GET", "/console/api/history", testToken, nil, &h)
	if len(h.SORate) == 0 || len(h.Objects[ballKey]) == 0 {
		t.Errorf("history has %d cluster points and %d ball points, want some of each", len(h.SORate), len(h.Objects[ballKey]))
	}

	// The last client leaves: the transient object is dropped after the
	// linger, and leaves the console.
	ball.Release()
	snapshotWhere(t, e, func(s snapshotJSON) error {
		if _, ok := findObject(s, ballKey); ok {
			return fmt.Errorf("ball still listed")
		}
		if _, ok := findObject(s, chatKey); !ok {
			return fmt.Errorf("chat gone too")
		}
		return nil
	})
}

func TestConsoleSharedObjectsNATSDown(t *testing.T) {
	e := newEnv(t, "nats://127.0.0.1:1") // nothing listens there
	snapshotWhere(t, e, func(s snapshotJSON) error {
		if !strings.Contains(s.Objects.Status, "NATS") {
			return fmt.Errorf("objects status %q, want it to say NATS is unreachable", s.Objects.Status)
		}
		return nil
	})
}

func TestSOKeys(t *testing.T) {
	for _, k := range []soKey{
		{scope: "live", name: "ball"},
		{scope: "live/room/1", name: "chat", persistent: true},
		{scope: "a b", name: "with/slash?", persistent: true},
	} {
		s := k.String()
		if got, ok := parseSOKey(s); !ok || got != k {
			t.Errorf("parseSOKey(%q) = %+v, %v, want %+v", s, got, ok, k)
		}
	}
	for _, bad := range []string{"", "so.p", "so.x.live.a", "p:live/a"} {
		if _, ok := parseSOKey(bad); ok {
			t.Errorf("parseSOKey(%q) succeeded", bad)
		}
	}
	id := cluster.ObjectID{Scope: "live/room 1", Name: "n.x", Persistent: true}
	key := strings.TrimPrefix(cluster.ObjectSubject(id), "so.") + "." + cluster.EscapeToken("node/1")
	k, node, ok := parsePresenceKey(key)
	if !ok || node != "node/1" || k != (soKey{scope: "live/room 1", name: "n.x", persistent: true}) {
		t.Errorf("parsePresenceKey(%q) = %+v, %q, %v", key, k, node, ok)
	}
	if _, _, ok := parsePresenceKey("p"); ok {
		t.Errorf("parsePresenceKey(p) succeeded")
	}
}
