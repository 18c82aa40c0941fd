package sharedobject_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/shoal-live/shoal/internal/rtmp/somsg"
	so "github.com/shoal-live/shoal/internal/sharedobject"
)

// synctestLinger runs f in a synctest bubble with one Manager whose linger
// is 5s.
func synctestLinger(t *testing.T, f func(t *testing.T, c *cluster, m *so.Manager)) {
	synctest.Test(t, func(t *testing.T) {
		c := newCluster()
		m := c.start(t, so.Config{Linger: 5 * time.Second})
		f(t, c, m)
	})
}

// waitLinger lets more than the linger pass.
func waitLinger() {
	time.Sleep(6 * time.Second)
	synctest.Wait()
}

func loaded(m *so.Manager, id so.ObjectID) bool {
	for _, l := range m.Loaded() {
		if l == id {
			return true
		}
	}
	return false
}

func TestLingerDropsTransientObject(t *testing.T) {
	synctestLinger(t, func(t *testing.T, c *cluster, m *so.Manager) {
		a := newClient("a")
		a.use(t, m, ball)
		a.submit(t, m, ball, set("k", 1.0))
		a.wait(t, 1)
		m.Release(ball, a)

		time.Sleep(4 * time.Second)
		synctest.Wait()
		if !c.log.Exists(ball) || !loaded(m, ball) {
			t.Fatalf("object dropped or unloaded before the linger ended")
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if c.log.Exists(ball) {
			t.Errorf("transient object not dropped after the linger")
		}
		if loaded(m, ball) {
			t.Errorf("object still followed after the linger")
		}

		// It starts afresh, empty, after the drop's tombstone: the use,
		// the set and the tombstone were versions 1 to 3.
		b := newClient("b")
		wantDeliveries(t, "b", []delivery{b.use(t, m, ball)},
			delivery{Version: 4, Events: []so.Event{ev(somsg.UseSuccess), ev(somsg.Clear)}})
	})
}

func TestReturningClientCancelsDrop(t *testing.T) {
	synctestLinger(t, func(t *testing.T, c *cluster, m *so.Manager) {
		a := newClient("a")
		a.use(t, m, ball)
		a.submit(t, m, ball, set("k", 1.0))
		a.wait(t, 1)
		m.Release(ball, a)
		time.Sleep(3 * time.Second)
		b := newClient("b")
		wantDeliveries(t, "b", []delivery{b.use(t, m, ball)},
			delivery{Version: 3, Events: []so.Event{ev(somsg.UseSuccess), ev(somsg.Clear), change("k", 1.0)}})
		time.Sleep(time.Minute)
		synctest.Wait()
		if !c.log.Exists(ball) {
			t.Errorf("object dropped while a client uses it")
		}
	})
}

func TestPersistentObjectIsKept(t *testing.T) {
	synctestLinger(t, func(t *testing.T, c *cluster, m *so.Manager) {
		a := newClient("a")
		a.use(t, m, scores)
		a.submit(t, m, scores, set("top", "ann"))
		a.wait(t, 1)
		m.Release(scores, a)
		waitLinger()
		if loaded(m, scores) {
			t.Errorf("persistent object still followed after the linger")
		}
		if !c.log.Exists(scores) {
			t.Fatalf("persistent object dropped")
		}
		b := newClient("b")
		wantDeliveries(t, "b", []delivery{b.use(t, m, scores)},
			delivery{Version: 3, Events: []so.Event{ev(somsg.UseSuccess), change("top", "ann")}})
	})
}

func TestDropWaitsForEveryNode(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCluster()
		m1 := c.start(t, so.Config{NodeID: "a", Linger: 5 * time.Second})
		m2 := c.start(t, so.Config{NodeID: "b", Linger: 5 * time.Second})
		a, b := newClient("a"), newClient("b")
		a.use(t, m1, ball)
		b.use(t, m2, ball)
		m1.Release(ball, a)
		waitLinger()
		if loaded(m1, ball) {
			t.Errorf("node a still follows the object it has no clients of")
		}
		if !c.log.Exists(ball) {
			t.Fatalf("object dropped while node b has a client")
		}
		m2.Release(ball, b)
		waitLinger()
		if c.log.Exists(ball) {
			t.Errorf("object not dropped after the last client anywhere left")
		}
	})
}

func TestHoldPreventsDrop(t *testing.T) {
	synctestLinger(t, func(t *testing.T, c *cluster, m *so.Manager) {
		h := m.Object(ball)
		if err := h.Hold(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := h.Set(t.Context(), "k", "v"); err != nil {
			t.Fatal(err)
		}
		a := newClient("a")
		wantDeliveries(t, "a", []delivery{a.use(t, m, ball)},
			delivery{Version: 3, Events: []so.Event{ev(somsg.UseSuccess), ev(somsg.Clear), change("k", "v")}})
		m.Release(ball, a)
		time.Sleep(time.Minute)
		synctest.Wait()
		if !c.log.Exists(ball) || !loaded(m, ball) {
			t.Fatalf("held object dropped or unloaded")
		}
		if v, ok := h.Get("k"); !ok || v != "v" {
			t.Errorf("Get(k) = %v, %v; want v, true", v, ok)
		}
		h.Release()
		h.Release() // more Releases than Holds do nothing
		waitLinger()
		if c.log.Exists(ball) {
			t.Errorf("object not dropped after its hold was released")
		}
	})
}
