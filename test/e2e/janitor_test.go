package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/shoal-live/shoal/internal/cluster"
)

// logEntries returns how many entries the log of obj holds in JetStream.
func logEntries(ctx context.Context, js jetstream.JetStream, obj cluster.ObjectID) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	name := cluster.TransientStream
	if obj.Persistent {
		name = cluster.PersistentStream
	}
	s, err := js.Stream(ctx, name)
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", name, err)
	}
	subj := cluster.ObjectSubject(obj)
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(subj))
	if err != nil {
		return 0, fmt.Errorf("stream %s info for %s: %w", name, subj, err)
	}
	return info.State.Subjects[subj], nil
}

// Presence settings of the tests of presence expiry: short, so that the
// tests wait seconds, not minutes.
const (
	shortPresenceTTL = 2 * time.Second
	shortLinger      = time.Second
)

// startShortPresencePair starts node-a, which runs NATS, and node-b joined
// to it, both with shortPresenceTTL and shortLinger, and returns them with
// a JetStream client of node-a's NATS, closed when the test ends.
func startShortPresencePair(t *testing.T) (a, b *node, js jetstream.JetStream) {
	t.Helper()
	env := []string{
		"SHOAL_NODE_CLUSTER_PRESENCE_TTL=" + shortPresenceTTL.String(),
		"SHOAL_NODE_SHARED_OBJECTS_LINGER=" + shortLinger.String(),
	}
	a = startNode(t, nodeConfig{id: "node-a", env: env})
	b = startNode(t, nodeConfig{id: "node-b", natsURL: a.natsURL, env: env})
	nc, err := nats.Connect(a.natsURL, nats.Timeout(5*time.Second))
	if err != nil {
		t.Fatalf("connect to node-a's nats: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err = jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return a, b, js
}

// TestClusterJanitorDropsOrphanAfterCrash checks that a transient object
// whose only node crashed is dropped from JetStream by another node's
// janitor, and that the janitor leaves it alone while that node is alive
// and its client connected, however long the object goes unwritten.
func TestClusterJanitorDropsOrphanAfterCrash(t *testing.T) {
	const ttl, linger = shortPresenceTTL, shortLinger
	a, b, js := startShortPresencePair(t)
	obj := cluster.ObjectID{Scope: "e2e/janitor", Name: "orphan"}
	const dropMsg = "orphaned transient shared object dropped"

	// node-a created the presence bucket from cluster.presence_ttl.
	bucket, err := js.KeyValue(t.Context(), cluster.PresenceBucket)
	if err != nil {
		t.Fatalf("presence bucket: %v", err)
	}
	st, err := bucket.Status(t.Context())
	if err != nil {
		t.Fatalf("presence bucket status: %v", err)
	}
	if st.TTL() != ttl {
		t.Fatalf("presence bucket TTL = %v, want cluster.presence_ttl %v", st.TTL(), ttl)
	}

	u := newUser("b-amf0", rtmpAMF0, obj.Scope, obj.Name, obj.Persistent)
	if _, _, err := u.connect(t.Context(), b); err != nil {
		t.Fatal(err)
	}
	defer u.close()
	for i := range 3 {
		if _, err := u.write(t.Context(), []kv{{fmt.Sprintf("k%d", i), "v"}}, 5*time.Second); err != nil {
			t.Fatalf("write k%d through node-b: %v", i, err)
		}
	}
	written := u.version()
	lastWrite := time.Now()
	n, err := logEntries(t.Context(), js, obj)
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatalf("%s has no entries in JetStream after 3 acknowledged writes", obj)
	}

	// Negative: node-a has no client of the object, and the object goes
	// unwritten for longer than linger + TTL plus a whole sweep interval,
	// but node-b is alive and its client connected, so its presence key
	// keeps the object. Nothing happens to wait for here: only time.
	time.Sleep(linger + 2*ttl + time.Second)
	if err := u.probe(t.Context()); err != nil {
		t.Fatalf("node-b's client lost its connection during the wait: %v", err)
	}
	if got, err := logEntries(t.Context(), js, obj); err != nil {
		t.Fatal(err)
	} else if got != n {
		t.Fatalf("%s has %d entries in JetStream %v after its last write with its client connected to node-b, want %d (kept)",
			obj, got, time.Since(lastWrite).Round(time.Millisecond), n)
	}
	if c := a.countLog(dropMsg); c != 0 {
		t.Fatalf("node-a logged %q %d times while node-b's client used the object", dropMsg, c)
	}

	// node-b crashes: no clean leave, its presence key just expires.
	b.kill(t)
	crashed := time.Now()
	checkFor(t, 30*time.Second, 100*time.Millisecond, func() error {
		got, err := logEntries(t.Context(), js, obj)
		if err != nil {
			return err
		}
		if got != 0 {
			return fmt.Errorf("%s still has %d entries in JetStream %v after node-b was killed",
				obj, got, time.Since(crashed).Round(time.Millisecond))
		}
		return nil
	})
	t.Logf("%s dropped from JetStream %v after node-b was killed (linger %v, presence TTL %v)",
		obj, time.Since(crashed).Round(time.Millisecond), linger, ttl)
	f := a.waitLog(t, dropMsg, 5*time.Second)
	if f["level"] != "INFO" || f["object"] != obj.String() {
		t.Errorf("node-a's drop log line = %v, want level INFO and object %s", f, obj)
	}

	// A new client on node-a finds an empty object on a fresh log, not
	// node-b's stale state.
	fresh := newUser("a-amf3", rtmpAMF3, obj.Scope, obj.Name, obj.Persistent)
	v, data := connectRetry(t, fresh, a)
	fresh.close()
	if len(data) != 0 || v >= written {
		t.Errorf("new client on node-a: version %d and %v, want an empty object below version %d", v, data, written)
	}
}
