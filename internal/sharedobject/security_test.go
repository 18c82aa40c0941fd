package sharedobject_test

import (
	"testing"

	"github.com/shoal-live/shoal/internal/rtmp/somsg"
	so "github.com/shoal-live/shoal/internal/sharedobject"
)

// deny is a Security that denies what its fields say.
type deny struct {
	so.AllowAll
	create, connect, write, del, send bool
}

func (d deny) CreationAllowed(string, string, bool, so.ConnInfo) bool { return !d.create }
func (d deny) ConnectAllowed(so.ObjectID, so.ConnInfo) bool           { return !d.connect }
func (d deny) WriteAllowed(_ so.ObjectID, key string, _ any, _ so.ConnInfo) bool {
	return !d.write || key != "locked"
}

func (d deny) DeleteAllowed(_ so.ObjectID, key string, _ so.ConnInfo) bool {
	return !d.del || key != "locked"
}
func (d deny) SendAllowed(so.ObjectID, string, []any, so.ConnInfo) bool { return !d.send }

func TestSecurityDenials(t *testing.T) {
	t.Run("creation", func(t *testing.T) {
		checkNoLeaks(t)
		c := newCluster()
		m := c.start(t, so.Config{})
		if err := m.AddSecurity("SOSample", deny{create: true}); err != nil {
			t.Fatal(err)
		}
		a := newClient("a")
		wantDeliveries(t, "a", []delivery{a.use(t, m, ball)},
			delivery{Version: 0, Events: []so.Event{status(somsg.CodeObjectCreationFailed)}})
		if err := m.Submit(t.Context(), ball, a, a.conn, []so.Request{set("k", 1.0)}); err == nil {
			t.Errorf("Submit after a failed Use succeeded")
		}
		// Once server code created it, clients may use it.
		h := m.Object(ball)
		if err := h.Hold(t.Context()); err != nil {
			t.Fatal(err)
		}
		defer h.Release()
		if got := a.use(t, m, ball); len(got.Events) == 0 || got.Events[0].Type != somsg.UseSuccess {
			t.Errorf("Use of an existing object with creation denied = %+v, want UseSuccess", got)
		}
		// Other scopes are not affected.
		b := newClient("b")
		other := so.ObjectID{Scope: "elsewhere", Name: "BallControl"}
		if got := b.use(t, m, other); got.Events[0].Type != somsg.UseSuccess {
			t.Errorf("Use in another scope = %+v, want UseSuccess", got)
		}
	})
	t.Run("connect", func(t *testing.T) {
		checkNoLeaks(t)
		m := newCluster().start(t, so.Config{})
		if err := m.AddSecurity("", deny{connect: true}); err != nil {
			t.Fatal(err)
		}
		a := newClient("a")
		wantDeliveries(t, "a", []delivery{a.use(t, m, ball)},
			delivery{Version: 0, Events: []so.Event{status(somsg.CodeNoReadAccess)}})
	})
	t.Run("write, delete and send", func(t *testing.T) {
		checkNoLeaks(t)
		c := newCluster()
		m := c.start(t, so.Config{})
		if err := m.AddSecurity("SOSample/**", deny{write: true, del: true, send: true}); err != nil {
			t.Fatal(err)
		}
		a, b := newClient("a"), newClient("b")
		a.use(t, m, ball)
		b.use(t, m, ball)
		appends, _ := c.log.Stats()

		a.submit(t, m, ball, set("locked", 1.0))
		wantDeliveries(t, "a", a.wait(t, 1), delivery{Version: 2, Events: []so.Event{status(somsg.CodeNoWriteAccess)}})
		a.submit(t, m, ball, remove("locked"))
		wantDeliveries(t, "a", a.wait(t, 1), delivery{Version: 2, Events: []so.Event{status(somsg.CodeNoWriteAccess)}})
		a.submit(t, m, ball, send("newMessage", "hi"))
		if got, _ := c.log.Stats(); got != appends {
			t.Errorf("denied requests appended %d batches", got-appends)
		}

		// Mixed: the accepted requests are one batch; the requester gets
		// its replies in request order.
		a.submit(t, m, ball, set("x", 1.0), set("locked", 2.0), send("newMessage", "hi"), set("y", 2.0))
		wantDeliveries(t, "a", a.wait(t, 1), delivery{Version: 3, Events: []so.Event{
			success("x"), status(somsg.CodeNoWriteAccess), success("y"),
		}})
		// The denied sends were silent: b's first delivery is the batch.
		wantDeliveries(t, "b", b.wait(t, 1), delivery{Version: 3, Events: []so.Event{change("x", 1.0), change("y", 2.0)}})
		if got := a.take(); len(got) != 0 {
			t.Errorf("a got more: %+v", got)
		}

		// A Clear needs every key to be deletable.
		a.submit(t, m, ball, so.Request{Type: somsg.Clear})
		wantDeliveries(t, "a", a.wait(t, 1), delivery{Version: 4, Events: []so.Event{
			removed("x"), removed("y"), ev(somsg.Clear),
		}})
		b.wait(t, 1)
		if err := m.Object(ball).Set(t.Context(), "locked", true); err != nil {
			t.Fatal(err)
		}
		a.wait(t, 1)
		a.submit(t, m, ball, so.Request{Type: somsg.Clear})
		wantDeliveries(t, "a", a.wait(t, 1), delivery{Version: 5, Events: []so.Event{status(somsg.CodeNoWriteAccess)}})
	})
}

func TestPolicy(t *testing.T) {
	checkNoLeaks(t)
	policy := so.Policy{Rules: []so.Rule{
		{Scope: "SOSample", Names: []string{"BallControl", "locked*", "fixed"}, ReadOnly: []string{"locked*"}, Create: []string{"Ball*", "locked*"}},
		{Scope: "chat/*", Create: []string{so.CreateNone}},
		{Scope: "open/**"},
	}}
	if err := policy.Validate(); err != nil {
		t.Fatal(err)
	}
	c := newCluster()
	m := c.start(t, so.Config{Policy: policy})

	useStatus := func(id so.ObjectID) string {
		t.Helper()
		cl := newClient("c")
		d := cl.use(t, m, id)
		if d.Events[0].Type == somsg.Status {
			return d.Events[0].Code
		}
		return ""
	}
	tests := []struct {
		name string
		id   so.ObjectID
		want string // Status code, "" for success
	}{
		{"allowed name", ball, ""},
		{"name not allowed", so.ObjectID{Scope: "SOSample", Name: "other"}, somsg.CodeNoReadAccess},
		{"allowed name, creation not allowed", so.ObjectID{Scope: "SOSample", Name: "fixed"}, somsg.CodeObjectCreationFailed},
		{"no creation in chat rooms", so.ObjectID{Scope: "chat/lobby", Name: "x"}, somsg.CodeObjectCreationFailed},
		{"chat/* does not match deeper scopes", so.ObjectID{Scope: "chat/a/b", Name: "x"}, ""},
		{"open/** matches deeper scopes", so.ObjectID{Scope: "open/a/b", Name: "x"}, ""},
		{"no rule", so.ObjectID{Scope: "other", Name: "x"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := useStatus(tc.id); got != tc.want {
				t.Errorf("Use(%s) status = %q, want %q", tc.id, got, tc.want)
			}
		})
	}

	// Read-only objects take messages but no writes.
	locked := so.ObjectID{Scope: "SOSample", Name: "locked1"}
	a := newClient("a")
	a.use(t, m, locked)
	a.submit(t, m, locked, set("k", 1.0), remove("k"), send("hello"))
	wantDeliveries(t, "a", a.wait(t, 1), delivery{Version: 2, Events: []so.Event{
		status(somsg.CodeNoWriteAccess), status(somsg.CodeNoWriteAccess), {Type: somsg.SendMessage, Handler: "hello", Args: []any{}},
	}})
	// Server code may still write.
	if err := m.Object(locked).Set(t.Context(), "k", 1.0); err != nil {
		t.Fatal(err)
	}
	wantDeliveries(t, "a", a.wait(t, 1), delivery{Version: 3, Events: []so.Event{change("k", 1.0)}})
}

func TestPolicyValidate(t *testing.T) {
	for _, p := range []so.Policy{
		{Rules: []so.Rule{{Scope: "["}}},
		{Rules: []so.Rule{{Names: []string{"a["}}}},
		{Rules: []so.Rule{{Create: []string{so.CreateNone, "x"}}}},
	} {
		if err := p.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil, want an error", p)
		}
	}
	m := so.New(so.Config{NodeID: "n"}, nil, nil, discardLogger())
	if err := m.AddSecurity("[", so.AllowAll{}); err == nil {
		t.Errorf("AddSecurity with a bad pattern succeeded")
	}
}

func TestBadPersistence(t *testing.T) {
	checkNoLeaks(t)
	c := newCluster()
	m1 := c.start(t, so.Config{NodeID: "a"})
	m2 := c.start(t, so.Config{NodeID: "b"})
	a := newClient("a")
	a.use(t, m1, ball)
	persistentBall := ball
	persistentBall.Persistent = true
	for _, m := range []*so.Manager{m1, m2} {
		b := newClient("b")
		wantDeliveries(t, "b", []delivery{b.use(t, m, persistentBall)},
			delivery{Version: 0, Events: []so.Event{status(somsg.CodeBadPersistence)}})
	}
	if err := m1.Object(persistentBall).Set(t.Context(), "k", 1.0); err == nil {
		t.Errorf("Set on the wrong persistence succeeded")
	}
}

func TestLimits(t *testing.T) {
	checkNoLeaks(t)
	m := newCluster().start(t, so.Config{MaxAttributes: 2, MaxValueBytes: 16, MaxObjectBytes: 25})
	a := newClient("a")
	a.use(t, m, ball)

	a.submit(t, m, ball, set("a", 1.0), set("b", 2.0), set("c", 3.0))
	wantDeliveries(t, "a", a.wait(t, 1), delivery{Version: 2, Events: []so.Event{
		success("a"), success("b"), status(so.CodeTooManyAttributes),
	}})
	// Replacing is fine; removing makes room.
	a.submit(t, m, ball, set("a", 4.0), remove("b"), set("c", 3.0))
	wantDeliveries(t, "a", a.wait(t, 1), delivery{Version: 3, Events: []so.Event{
		success("a"), removed("b"), success("c"),
	}})

	a.submit(t, m, ball, set("a", "a string longer than sixteen bytes"))
	got := a.wait(t, 1)
	wantDeliveries(t, "a", got, delivery{Version: 3, Events: []so.Event{status(so.CodeValueTooLarge)}})
	if d := got[0].Events[0].Description; d == "" {
		t.Errorf("limit Status has no description")
	}

	// a and c take 2×(1+9) bytes; c as a 16-byte string takes the object
	// to 27 bytes, past 25.
	a.submit(t, m, ball, set("c", "0123456789abcd"))
	wantDeliveries(t, "a", a.wait(t, 1), delivery{Version: 3, Events: []so.Event{status(so.CodeObjectTooLarge)}})

	if err := m.Object(ball).Set(t.Context(), "k", "a string longer than sixteen bytes"); err == nil {
		t.Errorf("server Set over MaxValueBytes succeeded")
	}
}
