package mediaserver

import (
	"encoding/json"
	"net/http"
	"net/http/pprof"
	"runtime"
	"time"

	"github.com/shoal-live/shoal/internal/agent"
	"github.com/shoal-live/shoal/internal/demo"
	"github.com/shoal-live/shoal/internal/metrics"
	"github.com/shoal-live/shoal/internal/relay"
	"github.com/shoal-live/shoal/internal/sharedobject/wsface"
	"github.com/shoal-live/shoal/internal/version"
)

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.handleHealth)
	mux.Handle("GET /metrics", metrics.Handler(s.collectMetrics))
	mux.HandleFunc("GET /api/v1/streams", s.handleStreams)
	mux.HandleFunc("GET /so/", func(w http.ResponseWriter, r *http.Request) { s.ws.ServeHTTP(w, r) })
	mux.Handle("GET /so.js", wsface.ClientJS())
	mux.Handle("GET /demo/ballcontrol", demo.BallControl())
	if s.cfg.HTTP.Pprof {
		// Go profiles: go tool pprof http://<http addr>/debug/pprof/profile
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	return mux
}

type health struct {
	Status   string `json:"status"`
	NodeID   string `json:"node_id"`
	Role     string `json:"role"`
	Version  string `json:"version"`
	RTMPAddr string `json:"rtmp_addr"`
	HTTPAddr string `json:"http_addr"`
	UptimeS  int64  `json:"uptime_s"`
	// Manager is the node agent's standing with the stream manager; absent
	// without manager.url.
	Manager *agent.State `json:"manager,omitempty"`
	// RelayPulls are the streams an edge pulls from origins.
	RelayPulls []relay.PullInfo `json:"relay_pulls,omitempty"`
}

func (s *Server) handleHealth(w http.ResponseWriter, _ *http.Request) {
	h := health{
		Status:   "ok",
		NodeID:   s.cfg.Node.ID,
		Role:     s.cfg.Node.Role,
		Version:  version.String(),
		RTMPAddr: s.RTMPAddr().String(),
		HTTPAddr: s.HTTPAddr().String(),
		UptimeS:  int64(time.Since(s.started).Seconds()),
	}
	if s.agent != nil {
		st := s.agent.State()
		h.Manager = &st
	}
	if s.relay != nil {
		h.RelayPulls = s.relay.Pulls()
	}
	writeJSON(w, http.StatusOK, h)
}

type streamJSON struct {
	Key         string    `json:"key"`
	Publishing  bool      `json:"publishing"`
	Subscribers int       `json:"subscribers"`
	VideoCodec  string    `json:"video_codec,omitempty"`
	AudioCodec  string    `json:"audio_codec,omitempty"`
	Width       int       `json:"width,omitempty"`
	Height      int       `json:"height,omitempty"`
	BytesIn     uint64    `json:"bytes_in"`
	Dropped     uint64    `json:"dropped_packets"`
	StartedAt   time.Time `json:"started_at"`
}

func (s *Server) handleStreams(w http.ResponseWriter, _ *http.Request) {
	infos := s.streams.Streams()
	out := make([]streamJSON, 0, len(infos))
	for _, in := range infos {
		out = append(out, streamJSON{
			Key: in.Key, Publishing: in.Publishing, Subscribers: in.Subscribers,
			VideoCodec: in.VideoCodec, AudioCodec: in.AudioCodec, Width: in.Width, Height: in.Height,
			BytesIn: in.BytesIn, Dropped: in.Dropped, StartedAt: in.StartedAt,
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{"streams": out})
}

func (s *Server) collectMetrics(w *metrics.Writer) {
	rs := s.rtmp.Stats()
	st := s.streams.Stats()
	w.Gauge("shoal_rtmp_connections", "Open RTMP connections.", float64(rs.Conns), nil)
	w.Counter("shoal_rtmp_bytes_in_total", "Bytes received on RTMP connections.", float64(rs.BytesIn), nil)
	w.Counter("shoal_rtmp_bytes_out_total", "Bytes sent on RTMP connections.", float64(rs.BytesOut), nil)
	w.Gauge("shoal_publishers", "Streams being published.", float64(st.Publishers), nil)
	w.Gauge("shoal_subscribers", "Players attached to streams.", float64(st.Subscribers), nil)
	w.Counter("shoal_dropped_packets_total", "Packets dropped for slow subscribers.", float64(st.DroppedPackets), nil)
	for _, in := range s.streams.Streams() {
		w.Gauge("shoal_stream_subscribers", "Players per stream.", float64(in.Subscribers), metrics.Labels{"stream": in.Key})
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	w.Gauge("shoal_go_heap_bytes", "Go heap in use.", float64(ms.HeapInuse), nil)
	w.Gauge("shoal_go_goroutines", "Goroutines.", float64(runtime.NumGoroutine()), nil)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
