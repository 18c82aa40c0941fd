package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// ackedWrite is a write that got Success: the batch's version and its sets.
type ackedWrite struct {
	user    *user
	version uint64
	sets    []kv
}

// writeRandomly writes random attributes of keys (1 to 3 sets, sometimes a
// removal, as one batch) until ctx is done, waiting for each Success and
// pausing up to pause between writes. Values are unique strings.
func writeRandomly(ctx context.Context, t *testing.T, u *user, rng *rand.Rand, keys []string, pause time.Duration) []ackedWrite {
	var acked []ackedWrite
	for n := 0; ctx.Err() == nil; n++ {
		perm := rng.Perm(len(keys))
		sets := make([]kv, 0, 4)
		for j := range 1 + rng.IntN(3) {
			sets = append(sets, kv{keys[perm[j]], fmt.Sprintf("%s/%d/%d", u.name, n, j)})
		}
		if rng.IntN(8) == 0 {
			sets = append(sets, kv{keys[perm[len(keys)-1]], nil})
		}
		if rng.IntN(10) == 0 {
			// A message to every client, as a separate batch.
			if err := u.message("note", fmt.Sprintf("%s/%d", u.name, n)); err != nil {
				t.Errorf("%s: send a message: %v", u.name, err)
				return acked
			}
		}
		v, err := u.write(ctx, sets, 10*time.Second)
		if ctx.Err() != nil {
			break // the answer to the last write may still come; it is not counted
		}
		if err != nil {
			t.Errorf("%s (%s on %s): write %d: %v", u.name, u.kind, u.node().id, n, err)
			return acked
		}
		acked = append(acked, ackedWrite{user: u, version: v, sets: sets})
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(rng.Int64N(int64(pause)))):
		}
	}
	return acked
}

func TestClusterConvergence(t *testing.T) {
	// Snapshots every 200 batches, so that they happen during the run and
	// the node started at the end reads a snapshot and the batches after it.
	env := []string{"SHOAL_NODE_SHARED_OBJECTS_SNAPSHOT_EVERY=200"}
	a := startNode(t, nodeConfig{id: "node-a", env: env})
	nodes := []*node{
		a,
		startNode(t, nodeConfig{id: "node-b", natsURL: a.natsURL, env: env}),
		startNode(t, nodeConfig{id: "node-c", natsURL: a.natsURL, env: env}),
	}
	const scope, obj = "e2e/converge", "board"
	kinds := []kind{rtmpAMF0, rtmpAMF3, webSocket}
	var users []*user
	for i := range 30 {
		k, n := kinds[i%3], nodes[(i/3)%3]
		u := newUser(fmt.Sprintf("u%02d-%s-%s", i, k, n.id), k, scope, obj, false)
		if _, _, err := u.connect(t.Context(), n); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(u.close)
		users = append(users, u)
	}
	keys := make([]string, 20)
	for i := range keys {
		keys[i] = fmt.Sprintf("k%02d", i)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var mu sync.Mutex
	var acked []ackedWrite
	var wg sync.WaitGroup
	seed := uint64(time.Now().UnixNano())
	t.Logf("random seed %d", seed)
	for i, u := range users {
		wg.Go(func() {
			w := writeRandomly(ctx, t, u, rand.New(rand.NewPCG(seed, uint64(i))), keys, 100*time.Millisecond)
			mu.Lock()
			acked = append(acked, w...)
			mu.Unlock()
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	var last uint64
	for _, w := range acked {
		last = max(last, w.version)
	}
	t.Logf("%d writes acknowledged in 10s by %d clients on %d nodes; last version %d", len(acked), len(users), len(nodes), last)
	if len(acked) < 3*len(users) {
		t.Fatalf("only %d writes acknowledged", len(acked))
	}

	// Every client reaches the version of the last write: the answers to
	// the writes under way when the time was up come first...
	checkFor(t, 15*time.Second, 50*time.Millisecond, func() error {
		for _, u := range users {
			if n := u.unanswered(); n > 0 {
				return fmt.Errorf("%s has %d writes unanswered", u.name, n)
			}
		}
		return nil
	})
	checkFor(t, 15*time.Second, 50*time.Millisecond, func() error {
		for _, u := range users {
			last = max(last, u.version())
		}
		for _, u := range users {
			if v := u.version(); v != last {
				return fmt.Errorf("%s is at version %d, want %d", u.name, v, last)
			}
		}
		return nil
	})
	// ...with the same copy.
	want := users[0].data()
	for _, u := range users[1:] {
		if got := u.data(); !cmp.Equal(want, got) {
			t.Errorf("%s's copy differs from %s's (-%s +%s):\n%s", u.name, users[0].name, users[0].name, u.name, cmp.Diff(want, got))
			for k := range want {
				if want[k] != got[k] {
					t.Logf("history of %s at %s:\n%s", k, users[0].name, keyHistory(users[0], k))
					t.Logf("history of %s at %s:\n%s", k, u.name, keyHistory(u, k))
				}
			}
		}
	}
	// The stored state: a node that never followed the object reads it from
	// JetStream (the latest snapshot and the batches after it).
	d := startNode(t, nodeConfig{id: "node-d", natsURL: a.natsURL, env: env})
	for _, k := range kinds {
		fresh := newUser("fresh-"+k.String(), k, scope, obj, false)
		v, got, err := fresh.connect(t.Context(), d)
		if err != nil {
			t.Fatal(err)
		}
		fresh.close()
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("clients' copies differ from the stored state read by %s on node-d (-clients +stored):\n%s", fresh.name, diff)
		}
		if v <= last {
			t.Errorf("%s used the object at version %d, want above %d", fresh.name, v, last)
		}
	}

	checkOneOrder(t, users, acked)
	checkMessagesOnce(t, users)
}

// checkMessagesOnce checks that every message whose sender got it back
// reached every client exactly once.
func checkMessagesOnce(t *testing.T, users []*user) {
	t.Helper()
	got := map[*user]map[any]int{}
	for _, u := range users {
		got[u] = map[any]int{}
		for _, m := range u.messages("note") {
			got[u][m]++
		}
	}
	sent, lost := 0, 0
	for _, sender := range users {
		for m := range got[sender] {
			if s, _ := m.(string); !strings.HasPrefix(s, sender.name+"/") {
				continue
			}
			sent++
			for _, u := range users {
				if n := got[u][m]; n != 1 {
					lost++
					if lost <= 10 {
						t.Errorf("message %v reached %s %d times, want once", m, u.name, n)
					}
				}
			}
		}
	}
	if lost > 10 {
		t.Errorf("... %d deliveries of messages wrong in all", lost)
	}
	t.Logf("%d messages sent, each checked at %d clients", sent, len(users))
}

// checkOneOrder checks that every client received the batches in one
// order: versions rise, every client other than the writer got the same
// events at a version, and every acknowledged write reached every other
// client, at its version, as changes to the values written.
func checkOneOrder(t *testing.T, users []*user, acked []ackedWrite) {
	t.Helper()
	writer := map[uint64]*user{}
	for _, w := range acked {
		if other := writer[w.version]; other != nil {
			t.Errorf("version %d acknowledged to both %s and %s", w.version, other.name, w.user.name)
		}
		writer[w.version] = w.user
	}
	type seen struct {
		by     *user
		events []event
	}
	canonical := map[uint64]seen{}
	logs := map[*user]map[uint64][]event{}
	for _, u := range users {
		byVersion := map[uint64][]event{}
		var prev uint64
		for i, b := range u.batches() {
			if i == 0 {
				prev = b.version // the use
				continue
			}
			if b.version <= prev {
				t.Errorf("%s got version %d after %d", u.name, b.version, prev)
			}
			prev = b.version
			byVersion[b.version] = b.events
			if b.has("success") {
				continue // the writer's answer
			}
			c, ok := canonical[b.version]
			if !ok {
				canonical[b.version] = seen{u, b.events}
				continue
			}
			if diff := cmp.Diff(c.events, b.events, cmp.AllowUnexported(event{})); diff != "" {
				t.Errorf("at version %d %s and %s got different events (-%s +%s):\n%s", b.version, c.by.name, u.name, c.by.name, u.name, diff)
			}
		}
		logs[u] = byVersion
	}
	missing := 0
	for _, w := range acked {
		for _, u := range users {
			if u == w.user {
				continue
			}
			evs, ok := logs[u][w.version]
			for _, s := range w.sets {
				if s.value == nil {
					continue
				}
				found := false
				for _, e := range evs {
					if e.typ == "change" && e.key == s.key && e.value == s.value {
						found = true
					}
				}
				if !found {
					missing++
					if missing <= 10 {
						t.Errorf("%s's acknowledged write %s=%v (version %d) did not reach %s (batch received: %v)", w.user.name, s.key, s.value, w.version, u.name, ok)
					}
				}
			}
		}
	}
	if missing > 10 {
		t.Errorf("... %d deliveries of acknowledged writes missing in all", missing)
	}
}

// keyHistory lists the last events about key that u received, for failure
// messages.
func keyHistory(u *user, key string) string {
	var lines []string
	for _, b := range u.batches() {
		for _, e := range b.events {
			if e.key == key || e.typ == "use_success" || e.typ == "clear" {
				lines = append(lines, fmt.Sprintf("  v%d %s %s=%v", b.version, e.typ, e.key, e.value))
			}
		}
	}
	return strings.Join(lines[max(0, len(lines)-8):], "\n")
}
