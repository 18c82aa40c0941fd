package console

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/shoal-live/shoal/internal/store"
)

// heartbeat is how often an idle event stream sends a comment, so proxies
// and the page notice a dead connection.
const heartbeat = 15 * time.Second

// sample reads the store and the shared objects once and publishes the
// sections. A failed store read keeps the previous sections and shows
// the error in the tick.
func (c *Console) sample(ctx context.Context) {
	now := time.Now()
	readCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	s, err := c.read(readCtx)
	cancel()
	if ctx.Err() != nil {
		return
	}
	tick := tickJSON{At: now.UnixMilli(), Load: map[string]float64{}}
	sections := map[string][]byte{}
	if err != nil {
		tick.Error = "read the store: " + errorText(err)
		c.logger.Debug("console sample failed", "err", err)
	} else {
		tick.Load = s.load
		c.state.addLoad(tick.At, s.load)
		sections[secFleet] = mustJSON(s.fleet)
		sections[secConfig] = mustJSON(s.config)
		sections[secScaling] = mustJSON(s.scaling)
	}
	objs := objectsJSON{Objects: []objectJSON{}, Status: "shared objects are not shown: the console has no NATS URL"}
	if c.so != nil {
		tick.SORate = c.so.sample(ctx, now)
		var keep map[string]bool
		if err == nil {
			keep = s.nodeIDs
		}
		objs = c.so.objects(c.soClientCounts(keep))
	}
	sections[secObjects] = mustJSON(objs)
	sections[secTick] = mustJSON(tick)
	c.state.publish(sections)
}

// mustJSON encodes v, which is always one of the section types.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("console: encode section: " + err.Error()) // the section types always encode
	}
	return b
}

// snapshot answers every section at once.
func (c *Console) snapshot(w http.ResponseWriter, _ *http.Request) {
	b := c.state.changedSince(map[string]uint64{})
	if b == nil {
		writeError(w, http.StatusServiceUnavailable, "the console has no data yet: its sampler has not run")
		return
	}
	writeRaw(w, http.StatusOK, b)
}

// events streams the sections as server-sent events: every section first,
// then the sections that changed, at most once per sample. The browser
// reads it with fetch, which, unlike EventSource, can send the
// Authorization header.
//
// The stream is gzipped when the client accepts it, with a flush after
// every event: the JSON of a large fleet shrinks about tenfold.
func (c *Console) events(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("X-Accel-Buffering", "no")
	w.Header().Set("Vary", "Accept-Encoding")
	var out io.Writer = w
	flush := rc.Flush
	if acceptsGzip(r) {
		w.Header().Set("Content-Encoding", "gzip")
		gz, _ := gzip.NewWriterLevel(w, gzip.BestSpeed) // BestSpeed is a valid level
		// At the end the client is gone or the stream ends: nothing to report.
		defer func() { _ = gz.Close() }()
		out = gz
		flush = func() error {
			if err := gz.Flush(); err != nil {
				return err
			}
			return rc.Flush()
		}
	}
	w.WriteHeader(http.StatusOK)
	if err := flush(); err != nil {
		return
	}
	ch := c.state.subscribe()
	defer c.state.unsubscribe(ch)
	sent := map[string]uint64{}
	ping := time.NewTicker(heartbeat)
	defer ping.Stop()
	ctx := r.Context()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.done:
			return
		case <-ping.C:
			if _, err := out.Write([]byte(": ping\n\n")); err != nil {
				return
			}
		case <-ch:
			b := c.state.changedSince(sent)
			if b == nil {
				continue
			}
			if _, err := out.Write(append(append([]byte("event: update\ndata: "), b...), "\n\n"...)); err != nil {
				return
			}
		}
		if err := flush(); err != nil {
			return
		}
	}
}

// acceptsGzip reports whether the request's Accept-Encoding allows gzip.
func acceptsGzip(r *http.Request) bool {
	for part := range strings.SplitSeq(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") && strings.ReplaceAll(q, " ", "") != "q=0" {
			return true
		}
	}
	return false
}

// historyJSON holds the histories the page's charts start from.
type historyJSON struct {
	IntervalMS int64              `json:"interval_ms"`
	Load       map[string][]point `json:"load"`
	SORate     []point            `json:"so_rate"`
	Objects    map[string][]point `json:"objects"`
}

// objectHistory is how many points of each object's rate the history
// holds (the cluster's rate keeps them all).
const objectHistory = 120

func (c *Console) history(w http.ResponseWriter, _ *http.Request) {
	h := historyJSON{IntervalMS: c.cfg.Interval.Milliseconds(), Load: c.state.loadHistory(), SORate: []point{}, Objects: map[string][]point{}}
	if c.so != nil {
		h.SORate, h.Objects = c.so.histories(objectHistory)
	}
	writeJSON(w, http.StatusOK, h)
}

// object answers one shared object with its attributes: ?key= its subject
// (so.p.<scope...>.<name> or so.t.…).
func (c *Console) object(w http.ResponseWriter, r *http.Request) {
	if c.so == nil {
		writeError(w, http.StatusNotFound, "shared objects are not shown: the console has no NATS URL")
		return
	}
	key := r.URL.Query().Get("key")
	k, ok := parseSOKey(key)
	if !ok {
		writeError(w, http.StatusBadRequest, `key: want an object subject (so.p.<scope>.<name> or so.t.…), got "`+key+`"`)
		return
	}
	d, ok := c.so.object(k, c.soClientCounts(nil)[k])
	if !ok {
		writeError(w, http.StatusNotFound, "no shared object "+key)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

// nodeEventsJSON is one node's state history.
type nodeEventsJSON struct {
	Node   string          `json:"node"`
	Events []nodeEventJSON `json:"events"`
}

type nodeEventJSON struct {
	At     int64  `json:"at"`
	From   string `json:"from"`
	To     string `json:"to"`
	Reason string `json:"reason"`
}

func (c *Console) nodeEvents(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	evs, err := c.st.NodeEvents(r.Context(), id)
	if err != nil {
		status := http.StatusInternalServerError
		if errors.Is(err, store.ErrNotFound) {
			status = http.StatusNotFound
		}
		c.logger.Warn("console read node events", "node", id, "err", err)
		writeError(w, status, "read the events of node "+id)
		return
	}
	out := nodeEventsJSON{Node: id, Events: make([]nodeEventJSON, 0, len(evs))}
	for _, e := range evs {
		out.Events = append(out.Events, nodeEventJSON{At: millis(e.At), From: e.From, To: e.To, Reason: e.Reason})
	}
	writeJSON(w, http.StatusOK, out)
}
