package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/shoal-live/shoal/internal/agentapi"
)

const testSecret = "s3cret"

// fakeManager answers the agent endpoints the way internal/api does, and
// records what it was sent.
type fakeManager struct {
	mu          sync.Mutex
	secret      string
	registers   []agentapi.RegisterRequest
	reports     []agentapi.Report
	failRegs    int    // answer this many registrations with 503
	known       bool   // the node is registered; reports of unknown nodes get 404
	nodeID      string // given at registration
	intervalMS  int64
	draining    bool
	parents     []string
	origins     map[string]string // "scope/name" → rtmp url
	reportTimes []time.Time
	requests    int // every request, authorised or not
}

func newFakeManager() *fakeManager {
	return &fakeManager{secret: testSecret, nodeID: "node-1", intervalMS: 1000, parents: []string{}}
}

func (m *fakeManager) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests++
	if r.Header.Get("Authorization") != "Bearer "+m.secret {
		writeErr(w, http.StatusForbidden, "invalid access token")
		return
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	switch r.URL.Path {
	case agentapi.RegisterPath:
		var req agentapi.RegisterRequest
		if err := dec.Decode(&req); err != nil {
			writeErr(w, http.StatusBadRequest, err.Error())
			return
		}
		m.registers = append(m.registers, req)
		if m.failRegs > 0 {
			m.failRegs--
			writeErr(w, http.StatusServiceUnavailable, "database down")
			return
		}
		if req.NodeID != "" && req.NodeID != m.nodeID {
			writeErr(w, http.StatusNotFound, "node "+req.NodeID+" not found")
			return
		}
		m.known = true
		writeJSON(w, agentapi.RegisterResponse{
			NodeID: m.nodeID, Role: req.Role, Group: "g1", Parents: m.parents,
			ReportIntervalMS: m.intervalMS,
		})
	case agentapi.ReportPath:
		var rep agentapi.Report
		if err := dec.Decode(&rep); err != nil {
			writeErr(w, http.StatusBadRequest, err.Error())
			return
		}
		m.reports = append(m.reports, rep)
		m.reportTimes = append(m.reportTimes, time.Now())
		if !m.known || rep.NodeID != m.nodeID {
			writeErr(w, http.StatusNotFound, "node "+rep.NodeID+" not found")
			return
		}
		writeJSON(w, agentapi.ReportResponse{State: "inservice", Draining: m.draining, Parents: m.parents})
	case agentapi.OriginPath:
		q := r.URL.Query()
		u, ok := m.origins[q.Get("scope")+"/"+q.Get("stream")]
		if !ok {
			writeErr(w, http.StatusNotFound, "stream not published")
			return
		}
		writeJSON(w, agentapi.OriginResponse{NodeID: "origin-1", Host: "127.0.0.1", RTMPPort: 1935, RTMPURL: u})
	default:
		writeErr(w, http.StatusNotFound, "no route")
	}
}

func writeErr(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(agentapi.Error{Message: msg, Timestamp: 1})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (m *fakeManager) counts() (registers, reports int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.registers), len(m.reports)
}

func (m *fakeManager) lastReport() agentapi.Report {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.reports) == 0 {
		return agentapi.Report{}
	}
	return m.reports[len(m.reports)-1]
}

func (m *fakeManager) set(f func(m *fakeManager)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f(m)
}

// fakeStats is a statsSource whose numbers the test sets.
type fakeStats struct {
	mu    sync.Mutex
	stats Stats
}

func (f *fakeStats) Stats() Stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.stats
	s.Streams = append([]agentapi.Stream(nil), s.Streams...)
	return s
}

func (f *fakeStats) set(fn func(s *Stats)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(&f.stats)
}

// handlerTransport serves requests with a handler in memory, so agents can
// run inside a synctest bubble.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if err := r.Context().Err(); err != nil {
		return nil, err
	}
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}

func testConfig(url string) Config {
	return Config{
		ManagerURL: url, Secret: testSecret, Role: agentapi.RoleEdge, Host: "127.0.0.1",
		RTMPPort: 1935, HTTPPort: 5080, Version: "test", RetryMin: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond,
	}
}

// runAgent runs a until the test ends and checks that Run returns nil
// promptly once cancelled.
func runAgent(t *testing.T, a *Agent) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run = %v, want nil", err)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("Run did not return 5s after cancel")
		}
	})
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// checkFor polls f until it returns nil or the timeout passes.
func checkFor(t *testing.T, timeout, interval time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %v", timeout, err)
		}
		time.Sleep(interval)
	}
}

func TestAgent_RegistersAndReports(t *testing.T) {
	m := newFakeManager()
	srv := httptest.NewServer(m)
	defer srv.Close()
	src := &fakeStats{stats: Stats{
		Connections: 3, Publishers: 1, Subscribers: 2,
		Streams: []agentapi.Stream{{Scope: "live", Name: "a", Publishing: true, Subscribers: 2}},
	}}
	a := New(testConfig(srv.URL+"/"), src, testLogger(t))
	runAgent(t, a)

	checkFor(t, 5*time.Second, 20*time.Millisecond, func() error {
		if _, n := m.counts(); n < 2 {
			return fmt.Errorf("%d reports, want 2", n)
		}
		return nil
	})
	m.mu.Lock()
	wantReg := agentapi.RegisterRequest{Role: "edge", Host: "127.0.0.1", RTMPPort: 1935, HTTPPort: 5080, Version: "test"}
	if diff := cmp.Diff(wantReg, m.registers[0]); diff != "" {
		t.Errorf("register request (-want +got):\n%s", diff)
	}
	if gap := m.reportTimes[1].Sub(m.reportTimes[0]); gap < 900*time.Millisecond || gap > 3*time.Second {
		t.Errorf("reports %s apart, want about the 1s interval the manager set", gap)
	}
	m.mu.Unlock()
	rep := m.lastReport()
	if rep.NodeID != "node-1" || rep.Connections != 3 || rep.Publishers != 1 || rep.Subscribers != 2 {
		t.Errorf("report = %+v, want node-1 with 3 connections, 1 publisher, 2 subscribers", rep)
	}
	if diff := cmp.Diff(src.stats.Streams, rep.Streams); diff != "" {
		t.Errorf("report streams (-want +got):\n%s", diff)
	}
	if rep.MemoryBytes <= 0 {
		t.Errorf("report memory_bytes = %d, want the process RSS", rep.MemoryBytes)
	}
	st := a.State()
	if !st.Registered || st.NodeID != "node-1" || st.Role != "edge" || st.Group != "g1" || st.ManagerState != "inservice" ||
		st.LastReport.IsZero() || st.LastError != "" {
		t.Errorf("State() = %+v, want registered node-1 edge g1 inservice", st)
	}
}

func TestAgent_RetriesUntilManagerIsUp(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens: connection refused
	a := New(testConfig("http://"+addr), &fakeStats{}, testLogger(t))
	runAgent(t, a)
	checkFor(t, 5*time.Second, 20*time.Millisecond, func() error {
		if st := a.State(); st.Registered || !strings.Contains(st.LastError, "connection refused") {
			return fmt.Errorf("State() = %+v, want unregistered with connection refused", st)
		}
		return nil
	})

	// The manager comes up on that address: the agent registers.
	m := newFakeManager()
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen again on %s: %v", addr, err)
	}
	srv := &http.Server{Handler: m}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	checkFor(t, 5*time.Second, 20*time.Millisecond, func() error {
		if _, n := m.counts(); n < 1 || !a.State().Registered {
			return fmt.Errorf("%d reports, state %+v", n, a.State())
		}
		return nil
	})
}

func TestAgent_RegistrationErrors(t *testing.T) {
	tests := []struct {
		name      string
		mutate    func(m *fakeManager, cfg *Config)
		wantRegs  int    // registrations the manager sees before the agent is registered
		wantError string // the last error while unregistered (empty: registers)
	}{
		{name: "manager failing then fine", mutate: func(m *fakeManager, _ *Config) { m.failRegs = 3 }, wantRegs: 4},
		{
			name: "unknown node id falls back to adoption", mutate: func(_ *fakeManager, c *Config) { c.NodeID = "by-hand" },
			wantRegs: 2,
		},
		{name: "wrong secret", mutate: func(_ *fakeManager, c *Config) { c.Secret = "wrong" }, wantError: "403"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newFakeManager()
			srv := httptest.NewServer(m)
			defer srv.Close()
			cfg := testConfig(srv.URL)
			tc.mutate(m, &cfg)
			a := New(cfg, &fakeStats{}, testLogger(t))
			runAgent(t, a)
			if tc.wantError != "" {
				checkFor(t, 5*time.Second, 20*time.Millisecond, func() error {
					if st := a.State(); st.Registered || !strings.Contains(st.LastError, tc.wantError) {
						return fmt.Errorf("State() = %+v, want unregistered with error %q", st, tc.wantError)
					}
					m.mu.Lock()
					defer m.mu.Unlock()
					if m.requests < 2 || len(m.registers) != 0 {
						return fmt.Errorf("%d refused requests, %d accepted registrations; want retries, none accepted",
							m.requests, len(m.registers))
					}
					return nil
				})
				return
			}
			checkFor(t, 5*time.Second, 20*time.Millisecond, func() error {
				if !a.State().Registered {
					return fmt.Errorf("not registered: %+v", a.State())
				}
				return nil
			})
			m.mu.Lock()
			defer m.mu.Unlock()
			if len(m.registers) != tc.wantRegs {
				t.Errorf("%d registrations, want %d", len(m.registers), tc.wantRegs)
			}
			if last := m.registers[len(m.registers)-1]; last.NodeID != "" {
				t.Errorf("last registration node_id = %q, want empty", last.NodeID)
			}
		})
	}
}

// newSyncAgent returns an agent that talks to m in memory, for synctest.
func newSyncAgent(t *testing.T, m *fakeManager, src statsSource) *Agent {
	cfg := testConfig("http://manager")
	cfg.Client = &http.Client{Transport: handlerTransport{m}}
	return New(cfg, src, slog.New(slog.DiscardHandler))
}

// runSync runs a inside the bubble; the returned func stops it and checks
// that Run returned.
func runSync(t *testing.T, a *Agent) (stop func()) {
	ctx, cancel := context.WithCancel(t.Context())
	var err atomic.Value
	done := make(chan struct{})
	go func() {
		defer close(done)
		if e := a.Run(ctx); e != nil {
			err.Store(e)
		}
	}()
	return func() {
		cancel()
		<-done
		if e := err.Load(); e != nil {
			t.Errorf("Run = %v, want nil", e)
		}
	}
}

func TestAgent_PublishReportedAtOnceDebounced(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newFakeManager()
		m.intervalMS = 10_000
		a := newSyncAgent(t, m, &fakeStats{})
		defer runSync(t, a)()
		synctest.Wait()
		if regs, reps := m.counts(); regs != 1 || reps != 1 {
			t.Fatalf("after start: %d registrations, %d reports; want 1 and 1 (report at once)", regs, reps)
		}
		for range 5 { // a burst of publishes and unpublishes
			a.Notify()
			time.Sleep(10 * time.Millisecond)
		}
		synctest.Wait()
		if _, reps := m.counts(); reps != 1 {
			t.Fatalf("%d reports during the debounce, want 1", reps)
		}
		time.Sleep(60 * time.Millisecond) // 100ms after the first Notify
		synctest.Wait()
		if _, reps := m.counts(); reps != 2 {
			t.Fatalf("%d reports 100ms after the first Notify, want 2", reps)
		}
		// The next periodic report is one interval after the last report,
		// made 100ms in (it is now 110ms in).
		time.Sleep(10*time.Second - 11*time.Millisecond)
		synctest.Wait()
		if _, reps := m.counts(); reps != 2 {
			t.Fatalf("%d reports just before the interval, want 2", reps)
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if _, reps := m.counts(); reps != 3 {
			t.Fatalf("%d reports after the interval, want 3", reps)
		}
	})
}

func TestAgent_ReportInterval(t *testing.T) {
	tests := []struct {
		name       string
		managerMS  int64
		configured time.Duration
		want       time.Duration
	}{
		{name: "manager's interval", managerMS: 2500, configured: 10 * time.Second, want: 2500 * time.Millisecond},
		{name: "manager's interval clamped to 1s", managerMS: 200, configured: 10 * time.Second, want: time.Second},
		{name: "configured when the manager sets none", managerMS: 0, configured: 3 * time.Second, want: 3 * time.Second},
		{name: "configured clamped to 1s", managerMS: 0, configured: time.Millisecond, want: time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m := newFakeManager()
				m.intervalMS = tc.managerMS
				cfg := testConfig("http://manager")
				cfg.Client = &http.Client{Transport: handlerTransport{m}}
				cfg.ReportInterval = tc.configured
				a := New(cfg, &fakeStats{}, slog.New(slog.DiscardHandler))
				defer runSync(t, a)()
				time.Sleep(5*tc.want + tc.want/2)
				synctest.Wait()
				m.mu.Lock()
				defer m.mu.Unlock()
				if len(m.reports) != 6 {
					t.Fatalf("%d reports in 5.5 intervals, want 6 (one at once, then one per interval)", len(m.reports))
				}
				for i := 1; i < len(m.reportTimes); i++ {
					if gap := m.reportTimes[i].Sub(m.reportTimes[i-1]); gap != tc.want {
						t.Errorf("report %d came %s after the previous, want %s", i, gap, tc.want)
					}
				}
			})
		})
	}
}

func TestAgent_Rates(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newFakeManager()
		m.intervalMS = 2000
		src := &fakeStats{}
		a := newSyncAgent(t, m, src)
		defer runSync(t, a)()
		synctest.Wait() // first report: no rates yet
		src.set(func(s *Stats) { s.BytesIn, s.BytesOut = 6000, 2000 })
		time.Sleep(2 * time.Second)
		synctest.Wait()
		rep := m.lastReport()
		if rep.BytesInPerS != 3000 || rep.BytesOutPerS != 1000 {
			t.Errorf("rates = in %d out %d B/s, want 3000 and 1000", rep.BytesInPerS, rep.BytesOutPerS)
		}
		// A publish 100ms later reports at once but keeps the last rates
		// rather than measuring over 100ms.
		src.set(func(s *Stats) { s.BytesIn = 1_000_000 })
		a.Notify()
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
		if rep := m.lastReport(); rep.BytesInPerS != 3000 {
			t.Errorf("rate after a debounced report = %d, want the last 3000", rep.BytesInPerS)
		}
		// A counter that went back (a restart) gives 0, not a huge number.
		src.set(func(s *Stats) { s.BytesIn, s.BytesOut = 10, 10 })
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if rep := m.lastReport(); rep.BytesInPerS != 0 || rep.BytesOutPerS != 0 {
			t.Errorf("rates after counters went back = %d, %d, want 0, 0", rep.BytesInPerS, rep.BytesOutPerS)
		}
		if rep := m.lastReport(); rep.CPU < 0 {
			t.Errorf("cpu = %v, want >= 0", rep.CPU)
		}
	})
}

func TestAgent_ReregistersOn404(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newFakeManager()
		a := newSyncAgent(t, m, &fakeStats{})
		defer runSync(t, a)()
		synctest.Wait()
		// The manager loses its records and numbers nodes anew.
		m.set(func(m *fakeManager) { m.known, m.nodeID = false, "node-2" })
		time.Sleep(time.Second)
		synctest.Wait()
		regs, _ := m.counts()
		if regs != 2 {
			t.Fatalf("%d registrations, want 2 (re-registered after the 404)", regs)
		}
		if st := a.State(); !st.Registered || st.NodeID != "node-2" {
			t.Fatalf("State() = %+v, want registered as node-2", st)
		}
		if rep := m.lastReport(); rep.NodeID != "node-2" {
			t.Errorf("report after re-registration from %q, want node-2", rep.NodeID)
		}
	})
}

func TestAgent_DrainingAndParents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newFakeManager()
		m.parents = []string{"10.0.0.1:1935"}
		a := newSyncAgent(t, m, &fakeStats{})
		defer runSync(t, a)()
		synctest.Wait()
		if a.Draining() {
			t.Fatal("Draining() = true before the manager said so")
		}
		if diff := cmp.Diff([]string{"10.0.0.1:1935"}, a.Parents()); diff != "" {
			t.Errorf("Parents() after registration (-want +got):\n%s", diff)
		}
		m.set(func(m *fakeManager) { m.draining, m.parents = true, []string{"10.0.0.2:1935"} })
		time.Sleep(time.Second)
		synctest.Wait()
		if !a.Draining() || !a.State().Draining {
			t.Error("Draining() = false after the manager said draining")
		}
		if diff := cmp.Diff([]string{"10.0.0.2:1935"}, a.Parents()); diff != "" {
			t.Errorf("Parents() after a report (-want +got):\n%s", diff)
		}
		m.set(func(m *fakeManager) { m.draining = false })
		time.Sleep(time.Second)
		synctest.Wait()
		if a.Draining() {
			t.Error("Draining() = true after the manager lifted it")
		}
	})
}

func TestAgent_ReportFailureKeepsRegistration(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newFakeManager()
		var down atomic.Bool
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if down.Load() {
				writeErr(w, http.StatusInternalServerError, "internal error")
				return
			}
			m.ServeHTTP(w, r)
		})
		cfg := testConfig("http://manager")
		cfg.Client = &http.Client{Transport: handlerTransport{h}}
		a := New(cfg, &fakeStats{}, slog.New(slog.DiscardHandler))
		defer runSync(t, a)()
		synctest.Wait()
		down.Store(true)
		time.Sleep(3 * time.Second)
		synctest.Wait()
		if st := a.State(); !st.Registered || !strings.Contains(st.LastError, "500") {
			t.Errorf("State() = %+v, want still registered with the 500 as last error", st)
		}
		down.Store(false)
		time.Sleep(time.Second)
		synctest.Wait()
		if st := a.State(); st.LastError != "" {
			t.Errorf("State().LastError = %q after reports resumed, want empty", st.LastError)
		}
		if regs, _ := m.counts(); regs != 1 {
			t.Errorf("%d registrations, want 1 (a failing report does not re-register)", regs)
		}
	})
}

func TestAgent_Origin(t *testing.T) {
	m := newFakeManager()
	m.origins = map[string]string{"live/room 1/cam": "rtmp://127.0.0.1:1935/live/room 1/cam"}
	srv := httptest.NewServer(m)
	defer srv.Close()
	tests := []struct {
		name          string
		secret        string
		scope, stream string
		want          string
		wantErr       error
		wantErrText   string
	}{
		{name: "published", secret: testSecret, scope: "live/room 1", stream: "cam", want: "rtmp://127.0.0.1:1935/live/room 1/cam"},
		{name: "not published", secret: testSecret, scope: "live", stream: "nope", wantErr: ErrNotPublished},
		{name: "wrong secret", secret: "bad", scope: "live", stream: "cam", wantErrText: "403"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(srv.URL)
			cfg.Secret = tc.secret
			a := New(cfg, &fakeStats{}, testLogger(t))
			got, err := a.Origin(t.Context(), tc.scope, tc.stream)
			switch {
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Origin = %v, want %v", err, tc.wantErr)
				}
			case tc.wantErrText != "":
				if err == nil || errors.Is(err, ErrNotPublished) || !strings.Contains(err.Error(), tc.wantErrText) {
					t.Fatalf("Origin = %v, want an error naming %s", err, tc.wantErrText)
				}
			case err != nil:
				t.Fatalf("Origin: %v", err)
			case got.RTMPURL != tc.want:
				t.Errorf("Origin = %q, want %q", got.RTMPURL, tc.want)
			}
		})
	}
}

func TestAgent_BadAnswers(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		body    string
		wantErr string
	}{
		{name: "not json", status: 200, body: "<html>", wantErr: "decode answer"},
		{name: "no node id", status: 200, body: `{"role":"edge"}`, wantErr: "without node_id"},
		{name: "error without json", status: 502, body: "bad gateway", wantErr: "502 Bad Gateway: bad gateway"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			}))
			defer srv.Close()
			a := New(testConfig(srv.URL), &fakeStats{}, testLogger(t))
			_, err := a.register(t.Context(), agentapi.RegisterRequest{})
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("register = %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}
