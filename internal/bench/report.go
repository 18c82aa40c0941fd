package bench

import (
	"fmt"
	"io"
	"strings"
)

// WriteText writes the report for people.
func (r *PlayReport) WriteText(w io.Writer) error {
	var b strings.Builder
	line := func(label, format string, args ...any) {
		fmt.Fprintf(&b, "%-14s %s\n", label, fmt.Sprintf(format, args...))
	}
	line("url", "%s", r.URL)
	if r.Interrupted {
		line("interrupted", "the run was cut short")
	}
	line("sessions", "%d", r.Sessions)
	line("connected", "%d", r.Connected)
	line("failed", "%d", r.Failed)
	line("dropped", "%d (connected, then lost the stream)", r.Dropped)
	line("window", "%.1f s", r.WindowS)
	line("bitrate", "p50 %.0f kbit/s, p5 %.0f kbit/s, min %.0f kbit/s, mean %.0f kbit/s",
		r.BitrateP50Kbps, r.BitrateP5Kbps, r.BitrateMinKbps, r.BitrateMeanKbps)
	line("stalled", "%d (gap over %.1f s or nothing received; never received: %d; worst gap %.2f s)",
		r.Stalled, r.StallS, r.NeverReceived, r.WorstGapS)
	line("first packet", "p50 %.0f ms, p95 %.0f ms", r.FirstPacketP50Ms, r.FirstPacketP95Ms)
	line("total", "%.1f Mbit/s (%.1f MB in the window)", r.TotalKbps/1000, float64(r.TotalBytes)/1e6)
	procLine := func(label string, st ProcStats) {
		line(label, "cpu %.2f s (%.0f %%), rss %.1f MB, peak rss %.1f MB, pids %v",
			st.CPUSeconds, st.CPUPercent, float64(st.RSSKB)/1024, float64(st.HWMKB)/1024, st.PIDs)
	}
	procLine("load generator", r.LoadGenerator)
	if r.Server != nil {
		procLine("server", *r.Server)
		if r.Connected > 0 {
			line("server/sub", "%.2f ms cpu per subscriber per second",
				1000*r.Server.CPUSeconds/float64(r.Connected)/max(r.WindowS, 1e-9))
		}
	}
	line("machine", "cpu %.0f %% of %d CPUs busy in the window (all processes)", r.MachineCPUPercent, r.CPUs)
	for i, e := range r.Errors {
		label := ""
		if i == 0 {
			label = "errors"
		}
		line(label, "%d× %s", e.Count, e.Error)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
