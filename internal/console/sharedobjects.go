package console

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/shoal-live/shoal/internal/cluster"
	"github.com/shoal-live/shoal/internal/sharedobject"
)

// soKey names a shared object.
type soKey struct {
	scope, name string
	persistent  bool
}

// String returns the object's subject in the shared-object streams, the
// key the page uses: unlike "scope/name" it is unambiguous.
func (k soKey) String() string {
	return cluster.ObjectSubject(cluster.ObjectID{Scope: k.scope, Name: k.name, Persistent: k.persistent})
}

// parseSOKey inverts soKey.String.
func parseSOKey(s string) (soKey, bool) {
	id, err := cluster.ParseObjectSubject(s)
	if err != nil {
		return soKey{}, false
	}
	return soKey{scope: id.Scope, name: id.Name, persistent: id.Persistent}, true
}

// soObject is the console's view of one shared object.
type soObject struct {
	key    soKey
	in     sharedobject.Inspector
	errors int // records that did not decode

	sampled     bool
	prevVersion uint64
	rate        float64
	hist        *ring
	nodes       []string // presence
}

// soStreamOf returns the stream holding an object's records.
func soStreamOf(k soKey) string {
	if k.persistent {
		return cluster.PersistentStream
	}
	return cluster.TransientStream
}

// soPosition is where the watcher is in one stream.
type soPosition struct {
	created time.Time          // the stream's Created when reading began at its start
	next    uint64             // the next sequence to read, 0 for the first
	epoch   uint64             // counts rereads: a consumer of an older epoch stops
	stop    context.CancelFunc // stops the current consumer, nil if none
	wake    chan struct{}      // buffered (1): ends follow's wait after a reread
}

// soMark is a position in a stream noted before reading its info.
type soMark struct{ epoch, next uint64 }

// errReread ends a consumer whose stream is to be read again from the
// start.
var errReread = errors.New("stream restarted: read it again")

// soWatcher follows the shared-object streams of JetStream with one
// ordered consumer per stream and replays every object's records with a
// sharedobject.Inspector. Every sample it lists the streams' subjects (to
// forget dropped objects), reads the presence bucket and turns version
// deltas into change rates.
//
// A stream that restarted (recreated, as a memory stream is when its only
// server restarts: its sequences start again from 1) is read again from
// its start, its objects forgotten: an Inspector ignores records at or
// below the last sequence it applied.
type soWatcher struct {
	url     string
	history int
	logger  *slog.Logger

	mu struct {
		sync.Mutex
		nc      *nats.Conn          // nil until run
		js      jetstream.JetStream // nil until run
		streams map[string]jetstream.Stream
		errs    map[string]string // by stream: why it cannot be read
		pos     map[string]*soPosition
		objects map[soKey]*soObject
		last    time.Time // time of the last sample
		rate    float64
		total   *ring
	}
}

func newSOWatcher(url string, history int, logger *slog.Logger) *soWatcher {
	w := &soWatcher{url: url, history: history, logger: logger}
	w.mu.streams = map[string]jetstream.Stream{}
	w.mu.errs = map[string]string{}
	w.mu.objects = map[soKey]*soObject{}
	w.mu.pos = map[string]*soPosition{}
	for _, name := range soStreams {
		w.mu.pos[name] = &soPosition{wake: make(chan struct{}, 1)}
	}
	w.mu.total = newRing(history)
	return w
}

var soStreams = []string{cluster.PersistentStream, cluster.TransientStream}

// run connects and follows both streams until ctx is done. Failures are
// shown on the page and retried; run never fails the manager.
func (w *soWatcher) run(ctx context.Context) error {
	nc, err := nats.Connect(w.url, nats.Name("shoal-console"), nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1), nats.ReconnectWait(time.Second))
	if err != nil {
		w.setErr("", fmt.Sprintf("connect to NATS at %s: %v", w.url, err))
		w.logger.Warn("console cannot connect to nats", "url", w.url, "err", err)
		return nil
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		w.setErr("", fmt.Sprintf("jetstream: %v", err))
		return nil
	}
	w.mu.Lock()
	w.mu.nc, w.mu.js = nc, js
	w.mu.Unlock()
	var wg sync.WaitGroup
	for _, name := range soStreams {
		wg.Go(func() { w.follow(ctx, js, name) })
	}
	wg.Wait()
	return nil
}

func (w *soWatcher) setErr(stream, msg string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if msg == "" {
		delete(w.mu.errs, stream)
	} else {
		w.mu.errs[stream] = msg
	}
}

// follow reads one stream from its first message, resuming after the last
// one read when the consumer fails, until ctx is done.
func (w *soWatcher) follow(ctx context.Context, js jetstream.JetStream, stream string) {
	w.mu.Lock()
	wake := w.mu.pos[stream].wake
	w.mu.Unlock()
	const firstWait = 500 * time.Millisecond
	wait := firstWait
	for {
		err := w.consume(ctx, js, stream)
		if ctx.Err() != nil {
			return
		}
		switch {
		case errors.Is(err, errReread):
			w.setErr(stream, "")
			wait = firstWait
			continue
		case errors.Is(err, jetstream.ErrStreamNotFound):
			w.setErr(stream, "")
		case err != nil:
			w.setErr(stream, fmt.Sprintf("read %s: %v", stream, err))
			w.logger.Debug("console stream read failed", "stream", stream, "err", err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-wake:
			t.Stop()
			wait = firstWait
			continue
		case <-t.C:
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// consume reads stream from the watcher's position in it until the
// consumer fails or the stream is to be read again (errReread).
func (w *soWatcher) consume(ctx context.Context, js jetstream.JetStream, stream string) error {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return err
	}
	info := s.CachedInfo()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w.mu.Lock()
	p := w.mu.pos[stream]
	w.checkRestartLocked(stream, soMark{epoch: p.epoch, next: p.next}, info.Created, info.State.LastSeq)
	if p.next == 0 {
		p.created = info.Created
	}
	p.stop = cancel
	select {
	case <-p.wake: // moot: the consumer starts now
	default:
	}
	mark := soMark{epoch: p.epoch, next: p.next}
	w.mu.Unlock()

	cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy, InactiveThreshold: 30 * time.Second}
	if mark.next > 0 {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, mark.next
	}
	cons, err := js.OrderedConsumer(ctx, stream, cfg)
	if err != nil {
		return w.consumerErr(stream, mark.epoch, err)
	}
	it, err := cons.Messages()
	if err != nil {
		return w.consumerErr(stream, mark.epoch, err)
	}
	// Stopped only here: the ordered consumer's Stop races its Next when
	// called from another goroutine (nats.go v1.47), so Next watches ctx.
	defer it.Stop()
	w.setErr(stream, "")
	for {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			return w.consumerErr(stream, mark.epoch, err)
		}
		meta, err := msg.Metadata()
		if err != nil {
			return err
		}
		if !w.apply(stream, mark.epoch, msg.Subject(), meta.Sequence.Stream, msg.Data()) {
			return errReread
		}
	}
}

// consumerErr returns errReread if the consumer of epoch failed because
// its stream is to be read again, else err.
func (w *soWatcher) consumerErr(stream string, epoch uint64, err error) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.mu.pos[stream].epoch != epoch {
		return errReread
	}
	return err
}

// apply replays one record of stream read by a consumer of epoch. It
// returns false, applying nothing, if the stream is to be read again.
func (w *soWatcher) apply(stream string, epoch uint64, subject string, seq uint64, data []byte) bool {
	id, err := cluster.ParseObjectSubject(subject)
	w.mu.Lock()
	defer w.mu.Unlock()
	p := w.mu.pos[stream]
	if p.epoch != epoch {
		return false
	}
	p.next = seq + 1
	if err != nil {
		w.logger.Debug("console skips a message of an unknown subject", "subject", subject)
		return true
	}
	k := soKey{scope: id.Scope, name: id.Name, persistent: id.Persistent}
	o := w.mu.objects[k]
	if o == nil {
		o = &soObject{key: k, hist: newRing(w.history)}
		w.mu.objects[k] = o
	}
	if err := o.in.Apply(seq, data); err != nil {
		o.errors++
	}
	return true
}

// checkRestartLocked compares stream's info, created and lastSeq, with the
// position mark noted before the info was read. If the stream restarted
// since the watcher began reading it (it has another Created, or fewer
// messages than were read), checkRestartLocked forgets the stream's objects
// and sets the watcher to read it again from its start. w.mu is held.
func (w *soWatcher) checkRestartLocked(stream string, mark soMark, created time.Time, lastSeq uint64) {
	p := w.mu.pos[stream]
	if p.epoch != mark.epoch || mark.next == 0 {
		return // read again already, or nothing read
	}
	var why string
	switch {
	case !created.Equal(p.created):
		why = "created anew"
	case lastSeq < mark.next-1:
		why = "sequences started again"
	default:
		return
	}
	w.logger.Info("console reads a restarted shared-object stream again", "stream", stream, "reason", why,
		"read_up_to", mark.next-1, "last_seq", lastSeq, "created", created, "was_created", p.created)
	for k := range w.mu.objects {
		if soStreamOf(k) == stream {
			delete(w.mu.objects, k)
		}
	}
	p.created, p.next = time.Time{}, 0
	p.epoch++
	if p.stop != nil {
		p.stop()
		p.stop = nil
	}
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// listing is what one sample reads from JetStream.
type listing struct {
	subjects map[string]bool      // subjects with messages
	lastSeq  map[string]uint64    // stream → last sequence at the time of reading
	created  map[string]time.Time // stream → its Created
	marks    map[string]soMark    // stream → the watcher's position before reading
	read     map[string]bool      // streams read
	presence map[soKey][]string
}

// sample reads the subjects and the presence, forgets dropped objects and
// updates the change rates. It returns the cluster's rate.
func (w *soWatcher) sample(ctx context.Context, now time.Time) float64 {
	l := w.list(ctx)
	w.mu.Lock()
	defer w.mu.Unlock()
	dt := now.Sub(w.mu.last).Seconds()
	first := w.mu.last.IsZero()
	w.mu.last = now
	for _, name := range soStreams {
		if l.read[name] {
			w.checkRestartLocked(name, l.marks[name], l.created[name], l.lastSeq[name])
		}
	}
	total := 0.0
	for k, o := range w.mu.objects {
		stream := soStreamOf(k)
		subject := k.String()
		// A subject gone from a stream read was dropped, unless its last
		// record came after the listing.
		if l.read[stream] && !l.subjects[subject] && o.in.Seq() <= l.lastSeq[stream] {
			delete(w.mu.objects, k)
			continue
		}
		o.nodes = l.presence[k]
		v := o.in.Version()
		o.rate = 0
		if o.sampled && !first && dt > 0 && v >= o.prevVersion {
			o.rate = float64(v-o.prevVersion) / dt
		}
		o.sampled, o.prevVersion = true, v
		o.hist.add(point{T: now.UnixMilli(), V: o.rate})
		total += o.rate
	}
	w.mu.rate = total
	w.mu.total.add(point{T: now.UnixMilli(), V: total})
	return total
}

// list reads the subjects of both streams and the presence keys.
func (w *soWatcher) list(ctx context.Context) listing {
	l := listing{
		subjects: map[string]bool{}, lastSeq: map[string]uint64{}, created: map[string]time.Time{},
		marks: map[string]soMark{}, read: map[string]bool{}, presence: map[soKey][]string{},
	}
	w.mu.Lock()
	js := w.mu.js
	w.mu.Unlock()
	if js == nil {
		return l
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	for _, name := range soStreams {
		w.mu.Lock()
		p := w.mu.pos[name]
		mark := soMark{epoch: p.epoch, next: p.next}
		w.mu.Unlock()
		info, err := w.streamInfo(ctx, js, name, "so.>")
		if err != nil {
			continue
		}
		l.read[name] = true
		l.lastSeq[name] = info.State.LastSeq
		l.created[name] = info.Created
		l.marks[name] = mark
		for subj := range info.State.Subjects {
			l.subjects[subj] = true
		}
	}
	prefix := "$KV." + cluster.PresenceBucket + "."
	info, err := w.streamInfo(ctx, js, "KV_"+cluster.PresenceBucket, prefix+">")
	if err != nil {
		return l
	}
	for subj := range info.State.Subjects {
		k, node, ok := parsePresenceKey(strings.TrimPrefix(subj, prefix))
		if ok {
			l.presence[k] = append(l.presence[k], node)
		}
	}
	for k := range l.presence {
		slices.Sort(l.presence[k])
	}
	return l
}

// streamInfo reads a stream's info with the subjects matching filter. A
// missing stream is no error on the page: no node has created it yet.
func (w *soWatcher) streamInfo(ctx context.Context, js jetstream.JetStream, name, filter string) (*jetstream.StreamInfo, error) {
	w.mu.Lock()
	s := w.mu.streams[name]
	w.mu.Unlock()
	if s == nil {
		var err error
		s, err = js.Stream(ctx, name)
		if err != nil {
			return nil, err
		}
		w.mu.Lock()
		w.mu.streams[name] = s
		w.mu.Unlock()
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(filter))
	if err != nil {
		w.mu.Lock()
		delete(w.mu.streams, name) // look it up again: it may have been recreated
		w.mu.Unlock()
		return nil, err
	}
	return info, nil
}

// parsePresenceKey splits a presence key, "<kind>.<scope...>.<name>.<node>",
// into the object and the node.
func parsePresenceKey(key string) (soKey, string, bool) {
	i := strings.LastIndexByte(key, '.')
	if i < 0 {
		return soKey{}, "", false
	}
	node, err := cluster.UnescapeToken(key[i+1:])
	if err != nil {
		return soKey{}, "", false
	}
	id, err := cluster.ParseObjectSubject("so." + key[:i])
	if err != nil {
		return soKey{}, "", false
	}
	return soKey{scope: id.Scope, name: id.Name, persistent: id.Persistent}, node, true
}

// objectsJSON is the objects section.
type objectsJSON struct {
	// Enabled is false when the console has no NATS URL.
	Enabled bool `json:"enabled"`
	// Status explains why objects may be missing, "" when all is well.
	Status  string       `json:"status"`
	Rate    float64      `json:"rate"`
	Objects []objectJSON `json:"objects"`
}

type objectJSON struct {
	Key        string  `json:"key"`
	App        string  `json:"app"`
	Scope      string  `json:"scope"`
	Name       string  `json:"name"`
	Persistent bool    `json:"persistent"`
	Version    uint64  `json:"version"`
	Seq        uint64  `json:"seq"`
	Rate       float64 `json:"rate"`
	Attrs      int     `json:"attrs"`
	Size       int     `json:"size"`
	LastNode   string  `json:"last_node"`
	Errors     int     `json:"errors"`
	// Nodes are the nodes with clients of the object; Clients is -1 when
	// the node does not report counts.
	Nodes []soNodeJSON `json:"nodes"`
}

type soNodeJSON struct {
	Node    string `json:"node"`
	Clients int    `json:"clients"`
}

// objects builds the objects section. counts are the client counts the
// nodes reported, by object and node.
func (w *soWatcher) objects(counts map[soKey]map[string]int) objectsJSON {
	out := objectsJSON{Enabled: true, Objects: []objectJSON{}}
	w.mu.Lock()
	defer w.mu.Unlock()
	out.Rate = w.mu.rate
	switch {
	case w.mu.js == nil && w.mu.errs[""] != "":
		out.Status = w.mu.errs[""]
	case w.mu.js == nil:
		out.Status = "connecting to NATS at " + w.url
	case !w.mu.nc.IsConnected():
		out.Status = "not connected to NATS at " + w.url + " (retrying)"
	default:
		var msgs []string
		for _, name := range soStreams {
			if e := w.mu.errs[name]; e != "" {
				msgs = append(msgs, e)
			}
		}
		out.Status = strings.Join(msgs, "; ")
	}
	for k, o := range w.mu.objects {
		if o.in.Dropped() {
			continue // a tombstone until the janitor erases it
		}
		app, _, _ := strings.Cut(k.scope, "/")
		oj := objectJSON{
			Key: k.String(), App: app, Scope: k.scope, Name: k.name, Persistent: k.persistent,
			Version: o.in.Version(), Seq: o.in.Seq(), Rate: o.rate, Attrs: o.in.Len(), Size: o.in.Size(),
			LastNode: o.in.LastNode(), Errors: o.errors, Nodes: []soNodeJSON{},
		}
		oj.Nodes = soNodes(o.nodes, counts[k])
		out.Objects = append(out.Objects, oj)
	}
	slices.SortFunc(out.Objects, func(a, b objectJSON) int {
		return cmp.Or(cmp.Compare(a.Scope, b.Scope), cmp.Compare(a.Name, b.Name), cmp.Compare(a.Key, b.Key))
	})
	return out
}

// soNodes merges the nodes present for an object with the client counts
// reported for it; a present node without a count has -1.
func soNodes(present []string, counts map[string]int) []soNodeJSON {
	out := make([]soNodeJSON, 0, len(present)+len(counts))
	seen := map[string]bool{}
	for _, n := range present {
		c, ok := counts[n]
		if !ok {
			c = -1
		}
		out = append(out, soNodeJSON{Node: n, Clients: c})
		seen[n] = true
	}
	for n, c := range counts {
		if !seen[n] {
			out = append(out, soNodeJSON{Node: n, Clients: c})
		}
	}
	slices.SortFunc(out, func(a, b soNodeJSON) int { return cmp.Compare(a.Node, b.Node) })
	return out
}

// objectDetailJSON is one object with its attributes.
type objectDetailJSON struct {
	objectJSON
	Attributes []attributeJSON `json:"attributes"`
	History    []point         `json:"history"`
}

type attributeJSON struct {
	Key   string `json:"key"`
	Type  string `json:"type"`
	Value string `json:"value"`
	Size  int    `json:"size"`
}

// object returns one object with its attributes, false if unknown.
// counts are the client counts the nodes reported for it.
func (w *soWatcher) object(k soKey, counts map[string]int) (objectDetailJSON, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	o := w.mu.objects[k]
	if o == nil || o.in.Dropped() {
		return objectDetailJSON{}, false
	}
	app, _, _ := strings.Cut(k.scope, "/")
	d := objectDetailJSON{
		objectJSON: objectJSON{
			Key: k.String(), App: app, Scope: k.scope, Name: k.name, Persistent: k.persistent,
			Version: o.in.Version(), Seq: o.in.Seq(), Rate: o.rate, Attrs: o.in.Len(), Size: o.in.Size(),
			LastNode: o.in.LastNode(), Errors: o.errors, Nodes: []soNodeJSON{},
		},
		Attributes: []attributeJSON{},
		History:    o.hist.last(0),
	}
	d.Nodes = soNodes(o.nodes, counts)
	for _, a := range o.in.Attributes() {
		aj := attributeJSON{Key: a.Key, Size: a.Size}
		if a.Err != nil {
			aj.Type, aj.Value = "error", a.Err.Error()
		} else {
			aj.Type, aj.Value = describe(a.Value)
		}
		d.Attributes = append(d.Attributes, aj)
	}
	return d, true
}

// histories returns the cluster's rate history and, for objects whose
// rate was not always 0, the last n points of their rate.
func (w *soWatcher) histories(n int) ([]point, map[string][]point) {
	w.mu.Lock()
	defer w.mu.Unlock()
	per := map[string][]point{}
	for k, o := range w.mu.objects {
		pts := o.hist.last(n)
		if slices.ContainsFunc(pts, func(p point) bool { return p.V != 0 }) {
			per[k.String()] = pts
		}
	}
	return w.mu.total.last(0), per
}
