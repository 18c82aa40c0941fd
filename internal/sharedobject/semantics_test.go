package sharedobject_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/shoal-live/shoal/internal/rtmp/amf"
	"github.com/shoal-live/shoal/internal/rtmp/somsg"
	so "github.com/shoal-live/shoal/internal/sharedobject"
	"github.com/shoal-live/shoal/internal/sharedobject/sharedobjecttest"
)

var (
	ball       = so.ObjectID{Scope: "SOSample", Name: "BallControl"}
	scores     = so.ObjectID{Scope: "game/room1", Name: "scores", Persistent: true}
	ballCoords = amf.Object{{Key: "x", Value: 100.0}, {Key: "y", Value: 200.0}}
)

func TestUseReplies(t *testing.T) {
	checkNoLeaks(t)
	c := newCluster()
	m := c.start(t, so.Config{})
	a, b := newClient("a"), newClient("b")

	wantDeliveries(t, "a", []delivery{a.use(t, m, ball)},
		delivery{Version: 1, Events: []so.Event{ev(somsg.UseSuccess), ev(somsg.Clear)}})
	a.submit(t, m, ball, set("ballCoordinates", ballCoords), set("n", int32(7)))
	a.wait(t, 1)

	// A transient object: UseSuccess, Clear, then a Change per attribute.
	wantDeliveries(t, "b", []delivery{b.use(t, m, ball)},
		delivery{Version: 3, Events: []so.Event{
			ev(somsg.UseSuccess), ev(somsg.Clear),
			change("ballCoordinates", ballCoords), change("n", int32(7)),
		}})

	// A persistent object: no Clear.
	p := newClient("p")
	if err := m.Object(scores).Set(t.Context(), "top", "ann"); err != nil {
		t.Fatal(err)
	}
	wantDeliveries(t, "p", []delivery{p.use(t, m, scores)},
		delivery{Version: 2, Events: []so.Event{ev(somsg.UseSuccess), change("top", "ann")}})
}

func TestRequestChange(t *testing.T) {
	checkNoLeaks(t)
	m := newCluster().start(t, so.Config{})
	a, b := newClient("a"), newClient("b")
	a.use(t, m, ball)
	b.use(t, m, ball)

	a.submit(t, m, ball, set("ballCoordinates", ballCoords))
	wantDeliveries(t, "a", a.wait(t, 1), delivery{Version: 3, Events: []so.Event{success("ballCoordinates")}})
	wantDeliveries(t, "b", b.wait(t, 1), delivery{Version: 3, Events: []so.Event{change("ballCoordinates", ballCoords)}})

	// The same value again: Success to the requester, nothing to others.
	a.submit(t, m, ball, set("ballCoordinates", amf.Object{{Key: "x", Value: 100.0}, {Key: "y", Value: 200.0}}))
	wantDeliveries(t, "a", a.wait(t, 1), delivery{Version: 4, Events: []so.Event{success("ballCoordinates")}})
	// b's next delivery is the next real change.
	a.submit(t, m, ball, set("n", 1.0))
	a.wait(t, 1)
	wantDeliveries(t, "b", b.wait(t, 1), delivery{Version: 5, Events: []so.Event{change("n", 1.0)}})

	// One message, one version: others see both changes together.
	b.submit(t, m, ball, set("p", "x"), set("q", true))
	wantDeliveries(t, "b", b.wait(t, 1), delivery{Version: 6, Events: []so.Event{success("p"), success("q")}})
	wantDeliveries(t, "a", a.wait(t, 1), delivery{Version: 6, Events: []so.Event{change("p", "x"), change("q", true)}})
}

func TestNestedEditIsAChange(t *testing.T) {
	checkNoLeaks(t)
	m := newCluster().start(t, so.Config{})
	a, b := newClient("a"), newClient("b")
	a.use(t, m, ball)
	b.use(t, m, ball)
	nested := func(x float64) amf.Object {
		return amf.Object{{Key: "pos", Value: amf.Object{{Key: "x", Value: x}}}, {Key: "tags", Value: amf.StrictArray{"a"}}}
	}
	a.submit(t, m, ball, set("o", nested(1)))
	a.wait(t, 1)
	b.wait(t, 1)
	a.submit(t, m, ball, set("o", nested(2)))
	a.wait(t, 1)
	wantDeliveries(t, "b", b.wait(t, 1), delivery{Version: 4, Events: []so.Event{change("o", nested(2))}})
}

func TestRemove(t *testing.T) {
	checkNoLeaks(t)
	m := newCluster().start(t, so.Config{})
	a, b := newClient("a"), newClient("b")
	a.use(t, m, ball)
	b.use(t, m, ball)
	a.submit(t, m, ball, set("k", 1.0), set("j", 2.0))
	a.wait(t, 1)
	b.wait(t, 1)

	// RequestRemove of an existing key: Remove to everyone.
	a.submit(t, m, ball, remove("k"))
	wantDeliveries(t, "a", a.wait(t, 1), delivery{Version: 4, Events: []so.Event{removed("k")}})
	wantDeliveries(t, "b", b.wait(t, 1), delivery{Version: 4, Events: []so.Event{removed("k")}})

	// Of a missing key: Remove to the requester only.
	a.submit(t, m, ball, remove("k"))
	wantDeliveries(t, "a", a.wait(t, 1), delivery{Version: 5, Events: []so.Event{removed("k")}})

	// Setting null removes: Success to the requester, Remove to others.
	a.submit(t, m, ball, set("j", nil))
	wantDeliveries(t, "a", a.wait(t, 1), delivery{Version: 6, Events: []so.Event{success("j")}})
	wantDeliveries(t, "b", b.wait(t, 1), delivery{Version: 6, Events: []so.Event{removed("j")}})
	if got := m.Object(ball).Attributes(); len(got) != 0 {
		t.Errorf("Attributes() = %v, want none", got)
	}
}

func TestClear(t *testing.T) {
	checkNoLeaks(t)
	m := newCluster().start(t, so.Config{})
	a, b := newClient("a"), newClient("b")
	a.use(t, m, ball)
	b.use(t, m, ball)
	a.submit(t, m, ball, set("k", 1.0), set("j", 2.0))
	a.wait(t, 1)
	b.wait(t, 1)

	// From server code: a Remove per key to everyone.
	if err := m.Object(ball).Clear(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client{a, b} {
		wantDeliveries(t, c.name, c.wait(t, 1), delivery{Version: 4, Events: []so.Event{removed("j"), removed("k")}})
	}

	// Submitted for a client: the requester also gets Clear.
	a.submit(t, m, ball, set("z", "z"))
	a.wait(t, 1)
	b.wait(t, 1)
	a.submit(t, m, ball, so.Request{Type: somsg.Clear})
	wantDeliveries(t, "a", a.wait(t, 1), delivery{Version: 6, Events: []so.Event{removed("z"), ev(somsg.Clear)}})
	wantDeliveries(t, "b", b.wait(t, 1), delivery{Version: 6, Events: []so.Event{removed("z")}})
}

func TestSendReachesEveryoneIncludingSender(t *testing.T) {
	checkNoLeaks(t)
	m := newCluster().start(t, so.Config{})
	a, b := newClient("a"), newClient("b")
	a.use(t, m, ball)
	b.use(t, m, ball)
	a.submit(t, m, ball, send("newMessage", "hi", amf.Object{{Key: "from", Value: "a"}}))
	want := delivery{Version: 3, Events: []so.Event{message("newMessage", "hi", amf.Object{{Key: "from", Value: "a"}})}}
	wantDeliveries(t, "a", a.wait(t, 1), want)
	wantDeliveries(t, "b", b.wait(t, 1), want)

	// From server code, without arguments: clients get nil Args (one null on the wire).
	if err := m.Object(ball).Send(t.Context(), "ping"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client{a, b} {
		got := c.wait(t, 1)
		if len(got[0].Events) != 1 || got[0].Events[0].Args != nil || got[0].Events[0].Handler != "ping" {
			t.Errorf("%s got %+v, want one SendMessage ping with nil Args", c.name, got)
		}
	}
}

func TestSubmitWithoutUse(t *testing.T) {
	checkNoLeaks(t)
	m := newCluster().start(t, so.Config{})
	a, b := newClient("a"), newClient("b")
	if err := m.Submit(t.Context(), ball, a, a.conn, []so.Request{set("k", 1.0)}); !errors.Is(err, so.ErrNotUsed) {
		t.Fatalf("Submit before Use = %v, want ErrNotUsed", err)
	}
	a.use(t, m, ball)
	if err := m.Submit(t.Context(), ball, b, b.conn, []so.Request{set("k", 1.0)}); !errors.Is(err, so.ErrNotUsed) {
		t.Fatalf("Submit by another listener = %v, want ErrNotUsed", err)
	}
	m.Release(ball, a)
	if err := m.Submit(t.Context(), ball, a, a.conn, []so.Request{set("k", 1.0)}); !errors.Is(err, so.ErrNotUsed) {
		t.Fatalf("Submit after Release = %v, want ErrNotUsed", err)
	}
}

func TestReleaseStopsDeliveries(t *testing.T) {
	checkNoLeaks(t)
	m := newCluster().start(t, so.Config{})
	a, b := newClient("a"), newClient("b")
	a.use(t, m, ball)
	b.use(t, m, ball)
	m.Release(ball, b)
	a.submit(t, m, ball, set("k", 1.0))
	a.wait(t, 1)
	if got := b.take(); len(got) != 0 {
		t.Errorf("released client got %+v", got)
	}
	// Released before its Use applied: no UseSuccess either.
	c := newClient("c")
	if err := m.Use(t.Context(), ball, c, c.conn); err != nil {
		t.Fatal(err)
	}
	m.Release(ball, c)
	a.submit(t, m, ball, set("k", 2.0))
	a.wait(t, 1)
	if got := c.take(); len(got) > 1 {
		t.Errorf("client released at once got %+v", got)
	}
}

func TestUseTwiceCountsOnce(t *testing.T) {
	synctestLinger(t, func(t *testing.T, c *cluster, m *so.Manager) {
		a := newClient("a")
		a.use(t, m, ball)
		// A second Use re-sends the initial data but holds no more.
		wantDeliveries(t, "a", []delivery{a.use(t, m, ball)},
			delivery{Version: 2, Events: []so.Event{ev(somsg.UseSuccess), ev(somsg.Clear)}})
		m.Release(ball, a)
		waitLinger()
		if c.log.Exists(ball) {
			t.Errorf("object not dropped after its only client released it")
		}
	})
}

func TestAppendFailure(t *testing.T) {
	checkNoLeaks(t)
	c := newCluster()
	m := c.start(t, so.Config{MaxValueBytes: 16})
	a := newClient("a")
	a.use(t, m, ball)
	c.log.FailAppends(sharedobjecttest.ErrInjected)
	// Submit does not wait for the log: the requester learns of the
	// failure, its denials first.
	big := set("big", strings.Repeat("x", 100))
	if err := m.Submit(t.Context(), ball, a, a.conn, []so.Request{big, set("k", 1.0)}); err != nil {
		t.Errorf("Submit with a failing log = %v, want nil (the failure is delivered)", err)
	}
	wantDeliveries(t, "a", a.wait(t, 1), delivery{Version: 1, Events: []so.Event{
		status(so.CodeValueTooLarge), status(so.CodeWriteFailed),
	}})
	b := newClient("b")
	if err := m.Use(t.Context(), ball, b, b.conn); !errors.Is(err, sharedobjecttest.ErrInjected) {
		t.Errorf("Use with a failing log = %v, want ErrInjected", err)
	}
	if err := m.Object(ball).Set(t.Context(), "k", 1.0); !errors.Is(err, sharedobjecttest.ErrInjected) {
		t.Errorf("Set with a failing log = %v, want ErrInjected", err)
	}
	c.log.FailAppends(nil)
	a.submit(t, m, ball, set("k", 1.0))
	wantDeliveries(t, "a", a.wait(t, 1), delivery{Version: 2, Events: []so.Event{success("k")}})
}

func TestInvalidID(t *testing.T) {
	m := so.New(so.Config{NodeID: "n"}, sharedobjecttest.NewLog(), so.NewLocalPresence(), discardLogger())
	a := newClient("a")
	if err := m.Use(t.Context(), so.ObjectID{Scope: "app"}, a, a.conn); !errors.Is(err, so.ErrInvalidID) {
		t.Errorf("Use of an unnamed object = %v, want ErrInvalidID", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
	defer cancel()
	if err := m.Use(ctx, ball, a, a.conn); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Use before Run = %v, want it to wait for Run until ctx ends", err)
	}
}

func TestUseAfterRun(t *testing.T) {
	checkNoLeaks(t)
	c := newCluster()
	m := so.New(so.Config{NodeID: "n"}, c.log, c.presence, discardLogger())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	a := newClient("a")
	if err := m.Use(t.Context(), ball, a, a.conn); !errors.Is(err, so.ErrNotRunning) {
		t.Errorf("Use after Run = %v, want ErrNotRunning", err)
	}
	if err := m.Run(t.Context()); err == nil {
		t.Errorf("second Run succeeded")
	}
}

func TestRunValidatesConfig(t *testing.T) {
	m := so.New(so.Config{}, sharedobjecttest.NewLog(), so.NewLocalPresence(), discardLogger())
	if err := m.Run(t.Context()); err == nil {
		t.Error("Run without a node id succeeded")
	}
}

func TestReleaseAll(t *testing.T) {
	checkNoLeaks(t)
	m := newCluster().start(t, so.Config{})
	a, b := newClient("a"), newClient("b")
	for _, id := range []so.ObjectID{ball, scores} {
		a.use(t, m, id)
		b.use(t, m, id)
	}
	m.ReleaseAll(b)
	for _, id := range []so.ObjectID{ball, scores} {
		a.submit(t, m, id, set("k", 1.0))
		a.wait(t, 1)
	}
	if got := b.take(); len(got) != 0 {
		t.Errorf("client got %+v after ReleaseAll", got)
	}
	if err := m.Submit(t.Context(), ball, b, b.conn, []so.Request{set("k", 2.0)}); !errors.Is(err, so.ErrNotUsed) {
		t.Errorf("Submit after ReleaseAll = %v, want ErrNotUsed", err)
	}
}
