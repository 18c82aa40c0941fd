package console

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/shoal-live/shoal/internal/agentapi"
	"github.com/shoal-live/shoal/internal/store"
)

func TestNewRequiresStoreAndToken(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{name: "no store", cfg: Config{AdminToken: "x"}, want: "Store is required"},
		{name: "no token", cfg: Config{Store: &store.Store{}}, want: "AdminToken is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New(%+v) error = %v, want %q", tc.cfg, err, tc.want)
			}
		})
	}
}

func TestConsoleAuth(t *testing.T) {
	e := newEnv(t, "")
	waitSnapshot(t, e)
	endpoints := []string{"/console/api/session", "/console/api/snapshot", "/console/api/history", "/console/api/node/nobody"}
	for _, path := range endpoints {
		for _, tc := range []struct {
			name   string
			header string
			status int
			msg    string
		}{
			{name: "no token", status: http.StatusUnauthorized, msg: "sign in with the admin token"},
			{name: "wrong token", header: "Bearer not-the-token", status: http.StatusForbidden, msg: "wrong admin token"},
			{name: "empty bearer", header: "Bearer ", status: http.StatusUnauthorized, msg: "sign in"},
			{name: "basic scheme", header: "Basic " + testToken, status: http.StatusUnauthorized, msg: "sign in"},
		} {
			t.Run(path+"/"+tc.name, func(t *testing.T) {
				req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, e.srv.URL+path, nil)
				if err != nil {
					t.Fatal(err)
				}
				if tc.header != "" {
					req.Header.Set("Authorization", tc.header)
				}
				res, err := e.srv.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer res.Body.Close()
				var body errorBody
				if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
					t.Fatalf("decode error body: %v", err)
				}
				if res.StatusCode != tc.status || !strings.Contains(body.Error, tc.msg) {
					t.Errorf("GET %s = %d %q, want %d containing %q", path, res.StatusCode, body.Error, tc.status, tc.msg)
				}
			})
		}
	}
	// The token is not taken from the URL (it would end up in logs).
	if st := e.call(t, "GET", "/console/api/snapshot?accessToken="+testToken, "", nil, nil); st != http.StatusUnauthorized {
		t.Errorf("GET snapshot with ?accessToken = %d, want 401", st)
	}
	if st := e.call(t, "GET", "/console/api/session", testToken, nil, nil); st != http.StatusOK {
		t.Errorf("GET session with the token = %d, want 200", st)
	}
}

func TestConsolePagesLoadWithoutToken(t *testing.T) {
	e := newEnv(t, "")
	for _, tc := range []struct {
		path, contentType, contains string
	}{
		{"/console/", "text/html", `id="signin"`},
		{"/console/static/style.css", "text/css", ".topbar"},
		{"/console/static/js/app.js", "javascript", "consoleStats"},
	} {
		res, err := e.srv.Client().Get(e.srv.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || !strings.Contains(res.Header.Get("Content-Type"), tc.contentType) || !strings.Contains(string(b), tc.contains) {
			t.Errorf("GET %s = %d %s, want 200 %s containing %q", tc.path, res.StatusCode, res.Header.Get("Content-Type"), tc.contentType, tc.contains)
		}
	}
	// "/" leads to the console.
	client := *e.srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	res, err := client.Get(e.srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusFound || res.Header.Get("Location") != Path {
		t.Errorf("GET / = %d to %q, want 302 to %s", res.StatusCode, res.Header.Get("Location"), Path)
	}
	if st := e.call(t, "GET", "/console/nothing", "", nil, nil); st != http.StatusNotFound {
		t.Errorf("GET /console/nothing = %d, want 404", st)
	}
}

// snapshotJSON is the whole state, as /api/snapshot answers it.
type snapshotJSON struct {
	Fleet   fleetJSON   `json:"fleet"`
	Config  configJSON  `json:"config"`
	Scaling scalingJSON `json:"scaling"`
	Objects objectsJSON `json:"objects"`
	Tick    tickJSON    `json:"tick"`
}

func waitSnapshot(t testing.TB, e *env) snapshotJSON {
	t.Helper()
	var s snapshotJSON
	checkFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if st := e.call(t, "GET", "/console/api/snapshot", testToken, nil, &s); st != http.StatusOK {
			return fmt.Errorf("snapshot status %d", st)
		}
		return nil
	})
	return s
}

// snapshotWhere polls the snapshot until ok accepts it.
func snapshotWhere(t testing.TB, e *env, ok func(s snapshotJSON) error) snapshotJSON {
	t.Helper()
	var s snapshotJSON
	checkFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		s = snapshotJSON{}
		if st := e.call(t, "GET", "/console/api/snapshot", testToken, nil, &s); st != http.StatusOK {
			return fmt.Errorf("snapshot status %d", st)
		}
		return ok(s)
	})
	return s
}

func TestConsoleSnapshot(t *testing.T) {
	e := newEnv(t, "")
	nodes := e.synthFleet(t, 2, 3)
	if _, err := e.st.AddScalingEvent(t.Context(), store.ScalingEvent{
		Group: "default", Role: store.RoleEdge, Action: store.ActionScaleOut, NodeID: "node-x", Reason: "edge load 72% (216 subscribers / 300 capacity) > 60% alarm",
	}); err != nil {
		t.Fatal(err)
	}
	// Drain edge 2: it leaves the active load.
	n, err := e.st.NodeByIdentifier(t.Context(), nodes[3].ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.SetNodeDraining(t.Context(), n.ID, true, "test"); err != nil {
		t.Fatal(err)
	}
	s := snapshotWhere(t, e, func(s snapshotJSON) error {
		if len(s.Fleet.Streams) != 6 || len(s.Scaling.Events) != 1 {
			return fmt.Errorf("%d streams, %d events, want 6 and 1", len(s.Fleet.Streams), len(s.Scaling.Events))
		}
		for _, n := range s.Fleet.Nodes {
			if n.Draining != (n.ID == nodes[3].ID) {
				return fmt.Errorf("node %s draining %v", n.ID, n.Draining)
			}
		}
		return nil
	})

	// Origins publish 3 streams each (capacity 30); edges carry them with
	// 1+2+3 subscribers (capacity 300); the second edge is draining.
	wantRoles := []roleJSON{
		{Role: "origin", Unit: "publishers", Nodes: 2, InService: 2, Active: 2, Load: 6, Capacity: 60, Percent: 10, Threshold: 60, Min: 1, Max: 5},
		{Role: "edge", Unit: "subscribers", Nodes: 2, InService: 2, Active: 1, Load: 6, Capacity: 300, Percent: 2, Threshold: 60, Min: 1, Max: 10},
	}
	if len(s.Fleet.Groups) != 1 {
		t.Fatalf("groups = %+v, want one", s.Fleet.Groups)
	}
	if diff := cmp.Diff(wantRoles, s.Fleet.Groups[0].Roles); diff != "" {
		t.Errorf("group roles mismatch (-want +got):\n%s", diff)
	}
	for i, n := range s.Fleet.Nodes {
		want := nodes[i]
		if n.ID != want.ID || n.Role != want.Role || n.State != "INSERVICE" || n.LastReport == 0 || n.Address == "" {
			t.Errorf("node %d = %+v, want %s %s INSERVICE with a report", i, n, want.ID, want.Role)
		}
	}
	if got := s.Fleet.Nodes[2]; got.Load != 6 || got.Subs != 6 || got.Capacity != 300 || got.Streams != 3 {
		t.Errorf("edge node = %+v, want load 6 of 300 with 3 streams", got)
	}
	wantStream := streamJSON{
		Scope: "live", Name: "s001-02",
		Origins: []carrierJSON{{Node: nodes[1].ID}}, Edges: []carrierJSON{{Node: nodes[3].ID, Subscribers: 3}}, Subscribers: 3,
	}
	i := slices.IndexFunc(s.Fleet.Streams, func(st streamJSON) bool { return st.Name == "s001-02" })
	if i < 0 {
		t.Fatalf("stream live/s001-02 missing from %+v", s.Fleet.Streams)
	}
	got := s.Fleet.Streams[i]
	got.Started = 0
	if diff := cmp.Diff(wantStream, got); diff != "" {
		t.Errorf("stream mismatch (-want +got):\n%s", diff)
	}
	if s.Config.Alarms["edge"] != 60 || len(s.Config.Policies) != 1 || len(s.Config.LaunchConfigs) != 1 {
		t.Errorf("config = %+v, want alarms at 60, one policy, one launch configuration", s.Config)
	}
	if ev := s.Scaling.Events[0]; ev.Action != "scale_out" || !strings.Contains(ev.Reason, "72%") || ev.At == 0 {
		t.Errorf("event = %+v, want the scale-out with its reason", ev)
	}
	if s.Tick.Load["default/edge"] != 2 || s.Tick.Load["default/origin"] != 10 || s.Tick.Error != "" {
		t.Errorf("tick = %+v, want edge 2%% and origin 10%%", s.Tick)
	}
	if s.Objects.Enabled || s.Objects.Status == "" {
		t.Errorf("objects = %+v, want disabled with a reason (no NATS URL)", s.Objects)
	}

	// Histories hold the load samples.
	var h historyJSON
	if st := e.call(t, "GET", "/console/api/history", testToken, nil, &h); st != http.StatusOK {
		t.Fatalf("history status %d", st)
	}
	if len(h.Load["default/edge"]) == 0 || h.IntervalMS != 200 {
		t.Errorf("history = %+v, want edge load points every 200ms", h)
	}
	// A node's state history.
	var ne nodeEventsJSON
	if st := e.call(t, "GET", "/console/api/node/"+nodes[3].ID, testToken, nil, &ne); st != http.StatusOK {
		t.Fatalf("node events status %d", st)
	}
	if len(ne.Events) < 2 || ne.Events[0].To != "PENDING" && ne.Events[0].To != "INSERVICE" {
		t.Errorf("node events = %+v, want creation and the drain", ne)
	}
}

// TestConsoleActionsThroughAPI checks that what the page's buttons call
// (the REST API with the admin token) shows up in the snapshot.
func TestConsoleActionsThroughAPI(t *testing.T) {
	e := newEnv(t, "")
	nodes := e.synthFleet(t, 1, 1)
	edge := nodes[1].ID
	for _, a := range []struct {
		method, path string
		body         any
		status       int
	}{
		{"POST", "/streammanager/api/4.0/admin/node/sunset", []string{edge}, http.StatusOK},
		{"POST", "/streammanager/api/4.0/admin/nodegroup", map[string]any{"name": "big", "regions": []string{"local"}, "launchConfig": "default", "scalePolicy": "default"}, http.StatusCreated},
		{"POST", "/streammanager/api/4.0/admin/nodegroup/big/node/origin", nil, http.StatusCreated},
		{"DELETE", "/streammanager/api/4.0/admin/node/" + nodes[0].ID, nil, http.StatusOK},
		{"POST", "/streammanager/api/4.0/admin/alarm/scaleout/default?type=edge&threshold=75", nil, http.StatusOK},
	} {
		if st := e.call(t, a.method, a.path, testToken, a.body, nil); st != a.status {
			t.Fatalf("%s %s = %d, want %d", a.method, a.path, st, a.status)
		}
	}
	snapshotWhere(t, e, func(s snapshotJSON) error {
		states := map[string]string{}
		for _, n := range s.Fleet.Nodes {
			st := n.State
			if n.Draining {
				st += "+draining"
			}
			states[n.Group+"/"+n.Role] += st + " "
		}
		want := map[string]string{"default/origin": "TERMINATING ", "default/edge": "INSERVICE+draining ", "big/origin": "PENDING "}
		if diff := cmp.Diff(want, states); diff != "" {
			return fmt.Errorf("node states (-want +got):\n%s", diff)
		}
		if s.Config.Alarms["edge"] != 75 || len(s.Fleet.Groups) != 2 {
			return fmt.Errorf("edge alarm %d and %d groups, want 75 and 2", s.Config.Alarms["edge"], len(s.Fleet.Groups))
		}
		return nil
	})
}

// sseReader reads the console's event stream.
type sseReader struct {
	res *http.Response
	sc  *bufio.Scanner
	// wire counts the bytes received, compressed when gzipped.
	wire *countingReader
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += n
	return n, err
}

func openEvents(t *testing.T, e *env) *sseReader {
	t.Helper()
	return openEventsEncoded(t, e, "")
}

// openEventsEncoded opens the event stream asking for encoding ("" lets
// the client choose and decode transparently).
func openEventsEncoded(t *testing.T, e *env, encoding string) *sseReader {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.srv.URL+"/console/api/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	if encoding != "" {
		req.Header.Set("Accept-Encoding", encoding)
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events = %d %s, want 200 text/event-stream", res.StatusCode, res.Header.Get("Content-Type"))
	}
	wire := &countingReader{r: res.Body}
	var body io.Reader = wire
	if encoding == "gzip" {
		if got := res.Header.Get("Content-Encoding"); got != "gzip" {
			t.Fatalf("events with Accept-Encoding: gzip has Content-Encoding %q", got)
		}
		zr, err := gzip.NewReader(wire)
		if err != nil {
			t.Fatalf("gzip header of the event stream: %v", err)
		}
		body = zr
	}
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	return &sseReader{res: res, sc: sc, wire: wire}
}

// next returns the sections of the next update.
func (r *sseReader) next() (map[string]json.RawMessage, error) {
	event := ""
	for r.sc.Scan() {
		line := r.sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			if event != "update" {
				return nil, fmt.Errorf("data of event %q", event)
			}
			var m map[string]json.RawMessage
			err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &m)
			return m, err
		}
	}
	if err := r.sc.Err(); err != nil {
		return nil, err
	}
	return nil, errors.New("event stream ended")
}

func TestConsoleEvents(t *testing.T) {
	e := newEnv(t, "")
	nodes := e.synthFleet(t, 1, 2)
	waitSnapshot(t, e)
	r := openEvents(t, e)
	first, err := r.next()
	if err != nil {
		t.Fatal(err)
	}
	if got := slices.Sorted(maps.Keys(first)); !slices.Equal(got, []string{"config", "fleet", "objects", "scaling", "tick"}) {
		t.Fatalf("first update has sections %v, want all of them", got)
	}
	// Later updates carry the tick and only what changed.
	second, err := r.next()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := second["tick"]; !ok {
		t.Fatalf("second update %v has no tick", slices.Sorted(maps.Keys(second)))
	}
	if _, ok := second["config"]; ok {
		t.Errorf("second update repeats the unchanged config section")
	}
	// A report with more subscribers reaches the stream.
	e.report(t, agentapi.Report{NodeID: nodes[1].ID, Subscribers: 42, Connections: 42, Streams: []agentapi.Stream{{Scope: "live", Name: "s000-00", Subscribers: 42}}})
	deadline := time.Now().Add(10 * time.Second)
	for {
		u, err := r.next()
		if err != nil {
			t.Fatal(err)
		}
		if raw, ok := u["fleet"]; ok {
			var f fleetJSON
			if err := json.Unmarshal(raw, &f); err != nil {
				t.Fatal(err)
			}
			if len(f.Streams) > 0 && f.Streams[0].Subscribers == 42 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no update with 42 subscribers on live/s000-00")
		}
	}
	if n := e.con.state.subscribers(); n != 1 {
		t.Errorf("subscribers() = %d, want 1", n)
	}
}

func TestConsoleEventsGzip(t *testing.T) {
	e := newEnv(t, "")
	e.synthFleet(t, 2, 5)
	waitSnapshot(t, e)
	for _, enc := range []string{"gzip", "identity"} {
		r := openEventsEncoded(t, e, enc)
		u, err := r.next()
		if err != nil {
			t.Fatalf("%s: %v", enc, err)
		}
		if _, ok := u["fleet"]; !ok {
			t.Errorf("%s: first update has no fleet", enc)
		}
		if got := r.res.Header.Get("Content-Encoding"); (got == "gzip") != (enc == "gzip") {
			t.Errorf("Accept-Encoding %s: Content-Encoding %q", enc, got)
		}
	}
}

func TestAcceptsGzip(t *testing.T) {
	for _, tc := range []struct {
		header string
		want   bool
	}{
		{"", false}, {"gzip", true}, {"deflate, gzip;q=1.0, br", true}, {"GZIP", true}, {"gzip;q=0", false}, {"br", false},
	} {
		r := &http.Request{Header: http.Header{"Accept-Encoding": {tc.header}}}
		if got := acceptsGzip(r); got != tc.want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", tc.header, got, tc.want)
		}
	}
}

func TestConsoleEventsEndWithRun(t *testing.T) {
	e := newEnv(t, "")
	waitSnapshot(t, e)
	r := openEvents(t, e)
	if _, err := r.next(); err != nil {
		t.Fatal(err)
	}
	e.stop()
	done := make(chan error, 1)
	go func() {
		for {
			if _, err := r.next(); err != nil {
				done <- err
				return
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the event stream is still open 5s after Run returned")
	}
}
