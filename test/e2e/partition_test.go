package e2e

import (
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/shoal-live/shoal/internal/cluster"
)

// signal sends sig to the process, failing the test if it cannot.
func (p *proc) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("send %v to %s: %v", sig, p.name, err)
	}
}

// TestClusterStalledNodeKeepsTransientObject checks that a node cut off
// for longer than the presence TTL keeps its clients' transient object
// when another node drops it meanwhile: the stalled node applies the
// tombstone, writes its copy back, and its clients see neither a change
// nor a version going back.
func TestClusterStalledNodeKeepsTransientObject(t *testing.T) {
	const ttl, linger = shortPresenceTTL, shortLinger
	a, b, js := startShortPresencePair(t)
	obj := cluster.ObjectID{Scope: "e2e/stall", Name: "ball"}
	const restoreMsg = "shared object dropped elsewhere while in use here; restoring this node's copy"
	bucket, err := js.KeyValue(t.Context(), cluster.PresenceBucket)
	if err != nil {
		t.Fatalf("presence bucket: %v", err)
	}
	transient, err := js.Stream(t.Context(), cluster.TransientStream)
	if err != nil {
		t.Fatalf("stream %s: %v", cluster.TransientStream, err)
	}
	// Presence keys are "<object key>.<node>", the object key being the
	// log subject without its "so." prefix (see internal/cluster/keys.go).
	bKey := strings.TrimPrefix(cluster.ObjectSubject(obj), "so.") + "." + b.id

	u := newUser("b-amf3", rtmpAMF3, obj.Scope, obj.Name, obj.Persistent)
	if _, _, err := u.connect(t.Context(), b); err != nil {
		t.Fatal(err)
	}
	defer u.close()
	want := map[string]any{}
	for i := range 3 {
		k := fmt.Sprintf("k%d", i)
		if _, err := u.write(t.Context(), []kv{{k, "v"}}, 5*time.Second); err != nil {
			t.Fatalf("write %s through node-b: %v", k, err)
		}
		want[k] = "v"
	}
	other := newUser("a-amf0", rtmpAMF0, obj.Scope, obj.Name, obj.Persistent)
	if _, got, err := other.connect(t.Context(), a); err != nil {
		t.Fatal(err)
	} else if diff := cmp.Diff(want, got); diff != "" {
		other.close()
		t.Fatalf("client on node-a (-want +got):\n%s", diff)
	}
	if _, err := bucket.Get(t.Context(), bKey); err != nil {
		t.Fatalf("node-b's presence key %q for %s: %v", bKey, obj, err)
	}
	last, err := transient.GetLastMsgForSubject(t.Context(), cluster.ObjectSubject(obj))
	if err != nil {
		t.Fatalf("newest entry of %s: %v", obj, err)
	}
	seenBefore := u.maxVersion()
	batchesBefore := len(u.batches())

	// node-b stalls: it can no longer refresh its presence, as if cut off
	// from NATS. Once its key has expired, node-a's client leaves and,
	// after the linger, node-a finds nobody present and drops the object.
	b.signal(t, syscall.SIGSTOP)
	stalled := time.Now()
	checkFor(t, 10*ttl, 50*time.Millisecond, func() error {
		switch _, err := bucket.Get(t.Context(), bKey); {
		case errors.Is(err, jetstream.ErrKeyNotFound):
			return nil
		case err != nil:
			return err
		}
		return fmt.Errorf("node-b's presence key %q still there %v after it stalled (TTL %v)",
			bKey, time.Since(stalled).Round(time.Millisecond), ttl)
	})
	t.Logf("node-b's presence key expired %v after it stalled (TTL %v)", time.Since(stalled).Round(time.Millisecond), ttl)
	other.close()
	left := time.Now()
	// The drop leaves the tombstone as the object's only entry: a
	// snapshot after every record written before. node-a's janitor erases
	// it only once it is older than linger + TTL, so it is seen here well
	// before that.
	var tomb uint64
	checkFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		n, err := logEntries(t.Context(), js, obj)
		if err != nil {
			return err
		}
		if n != 1 {
			return fmt.Errorf("%s has %d entries in JetStream %v after node-a's client left, want 1 (the tombstone)",
				obj, n, time.Since(left).Round(time.Millisecond))
		}
		m, err := transient.GetLastMsgForSubject(t.Context(), cluster.ObjectSubject(obj))
		if err != nil {
			return fmt.Errorf("newest entry of %s: %w", obj, err)
		}
		if m.Sequence <= last.Sequence || m.Header.Get("Shoal-Snapshot") == "" {
			return fmt.Errorf("only entry of %s: sequence %d, headers %v; want a snapshot after sequence %d",
				obj, m.Sequence, m.Header, last.Sequence)
		}
		tomb = m.Sequence
		return nil
	})
	b.signal(t, syscall.SIGCONT)
	t.Logf("node-a dropped %s (tombstone at sequence %d) %v after its client left; node-b stalled for %v",
		obj, tomb, time.Since(left).Round(time.Millisecond), time.Since(stalled).Round(time.Millisecond))

	f := b.waitLog(t, restoreMsg, 15*time.Second)
	if f["level"] != "INFO" || f["scope"] != obj.Scope || f["name"] != obj.Name || f["attributes"] != "3" {
		t.Errorf("node-b's restore log line = %v, want level INFO, scope %s, name %s and 3 attributes", f, obj.Scope, obj.Name)
	}
	if err := u.probe(t.Context()); err != nil {
		t.Fatalf("node-b's client lost its connection: %v", err)
	}
	if diff := cmp.Diff(want, u.data()); diff != "" {
		t.Errorf("client on node-b after node-b applied the drop (-want +got):\n%s", diff)
	}
	for _, bt := range u.batches()[batchesBefore:] {
		if bt.has("clear") || bt.has("remove") {
			t.Errorf("client on node-b got a batch clearing or removing keys after it stalled: %+v", bt)
		}
	}

	var v uint64
	checkFor(t, 30*time.Second, 100*time.Millisecond, func() error {
		var err error
		v, err = u.write(t.Context(), []kv{{"after", "1"}}, 2*time.Second)
		return err
	})
	want["after"] = "1"
	if v <= seenBefore {
		t.Errorf("write through node-b after the restore: version %d, want above %d", v, seenBefore)
	}
	if diff := cmp.Diff(want, u.data()); diff != "" {
		t.Errorf("client on node-b after its write (-want +got):\n%s", diff)
	}
	if err := u.versionWentBack(); err != nil {
		t.Errorf("client on node-b: %v", err)
	}

	fresh := newUser("a-amf0-fresh", rtmpAMF0, obj.Scope, obj.Name, obj.Persistent)
	fv, got := connectRetry(t, fresh, a)
	fresh.close()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("new client on node-a (-want +got):\n%s", diff)
	}
	if fv < v {
		t.Errorf("new client on node-a got version %d, want at least %d", fv, v)
	}
}
