package sobench

import (
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"
)

// Report is the result of Run. Counts are of changes (one attribute set
// per change); rates are per second of the measurement window.
type Report struct {
	// Mode is "latency" or "throughput".
	Mode      string  `json:"mode"`
	WriterURL string  `json:"writer_url"`
	ReaderURL string  `json:"reader_url"`
	Objects   int     `json:"objects"`
	Readers   int     `json:"readers"`
	Encoding  float64 `json:"encoding"`
	InFlight  int     `json:"in_flight"`
	// TargetRate is the configured rate of latency mode.
	TargetRate float64 `json:"target_rate,omitempty"`
	WindowS    float64 `json:"window_s"`
	// Interrupted is set when the context ended the run early.
	Interrupted bool `json:"interrupted,omitempty"`

	// Sent changes; Accepted of them were answered with Success, Rejected
	// with Status, and the rest never answered (Unanswered).
	Sent       uint64 `json:"sent"`
	Accepted   uint64 `json:"accepted"`
	Rejected   uint64 `json:"rejected"`
	Unanswered uint64 `json:"unanswered"`
	// SentPerS is Sent over the window.
	SentPerS float64 `json:"sent_per_s"`
	// AcceptedPerS counts the Successes that came within the window.
	AcceptedPerS float64 `json:"accepted_per_s"`
	// Ack is the delay from sending a change to its Success.
	Ack Latency `json:"ack_latency"`

	// Delivery is the delay from sending a change to a reader receiving it,
	// over all readers.
	Delivery Latency `json:"delivery_latency"`
	// DeliveredPerS counts the changes all readers received within the
	// window.
	DeliveredPerS float64 `json:"delivered_per_s"`
	// Missing counts accepted changes some reader never received, summed
	// over readers; it must be 0.
	Missing    uint64 `json:"missing"`
	Duplicates uint64 `json:"duplicates"`
	Reordered  uint64 `json:"reordered"`
	// Foreign counts changes of the attribute that no writer of this run
	// set.
	Foreign uint64 `json:"foreign"`
	// StateMatches tells whether every reader's copy of every object ends
	// with the writer's last accepted change.
	StateMatches bool `json:"state_matches"`
	// Lost lists the connections that ended during the run, and why.
	Lost []string `json:"lost,omitempty"`
	// Settled tells whether every change was answered and every reader
	// caught up within the settle time.
	Settled bool `json:"settled"`
	// Complete is the verdict: every change sent was accepted, and every
	// reader received each exactly once and ended in the writer's state.
	Complete bool `json:"complete"`

	PerReader []ReaderReport `json:"per_reader"`
	// LoadAverage is the machine's one-minute load average at the end.
	LoadAverage float64 `json:"load_average"`
	// GeneratorCPUPercent is this process's CPU time over the window (100
	// is one CPU busy), MachineCPUPercent all processes' (of CPUs × 100):
	// what exceeds the servers and the generator is other work.
	GeneratorCPUPercent float64 `json:"generator_cpu_percent"`
	MachineCPUPercent   float64 `json:"machine_cpu_percent"`
	CPUs                int     `json:"cpus"`
}

// ReaderReport is what one reading connection received.
type ReaderReport struct {
	Delivered     uint64  `json:"delivered"`
	DeliveredPerS float64 `json:"delivered_per_s"`
	Missing       uint64  `json:"missing"`
	Duplicates    uint64  `json:"duplicates"`
	Reordered     uint64  `json:"reordered"`
	StateMatches  bool    `json:"state_matches"`
	Latency       Latency `json:"latency"`
}

// report builds the Report of a finished run.
func (r *run) report(window time.Duration, settled bool) *Report {
	rep := &Report{
		Mode: "latency", WriterURL: r.cfg.WriterURL, ReaderURL: r.cfg.ReaderURL,
		Objects: r.cfg.Objects, Readers: r.cfg.Readers, Encoding: r.cfg.Encoding, InFlight: r.cfg.InFlight,
		TargetRate: r.cfg.Rate, WindowS: window.Seconds(), Settled: settled, StateMatches: true,
		LoadAverage: loadAverage(), GeneratorCPUPercent: r.cpuSelf, MachineCPUPercent: r.cpuMachine,
		CPUs: runtime.NumCPU(),
	}
	if r.cfg.Max {
		rep.Mode, rep.TargetRate = "throughput", 0
	}
	perS := func(n uint64) float64 { return float64(n) / max(window.Seconds(), 1e-9) }

	var ack histogram
	var windowAck uint64
	last := make([]uint64, len(r.writers))
	for i, w := range r.writers {
		w.mu.Lock()
		rep.Sent += w.mu.sent
		rep.Accepted += w.mu.accepted.count
		rep.Rejected += w.mu.rejected
		rep.Unanswered += w.mu.sent - w.mu.answered
		windowAck += w.mu.windowAck
		ack.merge(&w.mu.ack)
		last[i] = w.mu.accepted.highest
		w.mu.Unlock()
	}
	rep.SentPerS, rep.AcceptedPerS, rep.Ack = perS(rep.Sent), perS(windowAck), ack.summary()

	var delivery histogram
	var windowDelivered uint64
	for i, rd := range r.readers {
		var rr ReaderReport
		rd.mu.Lock()
		for j, w := range r.writers {
			s := &rd.mu.seqs[j]
			w.mu.Lock()
			rr.Missing += s.missingFrom(&w.mu.accepted)
			w.mu.Unlock()
			rr.Duplicates += s.duplicates
			rr.Reordered += s.reordered
		}
		rr.Delivered = rd.mu.delivered
		rr.DeliveredPerS = perS(rd.mu.window)
		rr.Latency = rd.mu.latency.summary()
		windowDelivered += rd.mu.window
		delivery.merge(&rd.mu.latency)
		rep.Foreign += rd.mu.foreign
		rd.mu.Unlock()

		rr.StateMatches = true
		for j, o := range r.rObjs[i] {
			v, _ := o.Get(key)
			if seq, _, ok := parseValue(v); !ok || seq != last[j] {
				rr.StateMatches = false
			}
		}
		rep.Missing += rr.Missing
		rep.Duplicates += rr.Duplicates
		rep.Reordered += rr.Reordered
		rep.StateMatches = rep.StateMatches && rr.StateMatches
		rep.PerReader = append(rep.PerReader, rr)
	}
	rep.Delivery, rep.DeliveredPerS = delivery.summary(), perS(windowDelivered)
	for _, err := range r.lost() {
		rep.Lost = append(rep.Lost, err.Error())
	}
	rep.Complete = rep.Sent > 0 && rep.Accepted == rep.Sent && rep.Missing == 0 &&
		rep.Duplicates == 0 && rep.StateMatches && len(rep.Lost) == 0
	return rep
}

// WriteText writes the report for people.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	line := func(label, format string, args ...any) {
		fmt.Fprintf(&b, "%-16s %s\n", label, fmt.Sprintf(format, args...))
	}
	lat := func(l Latency) string {
		return fmt.Sprintf("p50 %.3f ms, p90 %.3f ms, p99 %.3f ms, max %.3f ms (%d samples)",
			l.P50Ms, l.P90Ms, l.P99Ms, l.MaxMs, l.Count)
	}
	line("mode", "%s", r.Mode)
	line("writers", "%d objects on %s", r.Objects, r.WriterURL)
	line("readers", "%d on %s (each uses every object)", r.Readers, r.ReaderURL)
	if r.Interrupted {
		line("interrupted", "the run was cut short")
	}
	if r.Mode == "latency" {
		line("rate", "%.0f changes/s wanted, %.0f sent", r.TargetRate, r.SentPerS)
	} else {
		line("in flight", "at most %d unanswered changes per writer", r.InFlight)
	}
	line("window", "%.1f s", r.WindowS)
	line("sent", "%d (%.0f/s)", r.Sent, r.SentPerS)
	line("accepted", "%d (%.0f/s in the window), rejected %d, unanswered %d",
		r.Accepted, r.AcceptedPerS, r.Rejected, r.Unanswered)
	line("ack latency", "%s", lat(r.Ack))
	line("delivered", "%.0f/s in the window over all readers", r.DeliveredPerS)
	for i, rr := range r.PerReader {
		if i == 8 && len(r.PerReader) > 9 {
			line("", "... %d more readers", len(r.PerReader)-i)
			break
		}
		line(fmt.Sprintf("  reader %d", i), "%d delivered (%.0f/s), missing %d, state %s",
			rr.Delivered, rr.DeliveredPerS, rr.Missing, map[bool]string{true: "matches", false: "DIFFERS"}[rr.StateMatches])
	}
	line("missing", "%d (duplicates %d, reordered %d, foreign %d)", r.Missing, r.Duplicates, r.Reordered, r.Foreign)
	line("latency", "%s", lat(r.Delivery))
	for i, l := range r.Lost {
		if i == 4 && len(r.Lost) > 5 {
			line("", "... %d more lost connections", len(r.Lost)-i)
			break
		}
		line(map[bool]string{true: "lost", false: ""}[i == 0], "%s", l)
	}
	verdict := "every accepted change reached every reader"
	if !r.Complete {
		verdict = "INCOMPLETE"
		if !r.Settled {
			verdict += " (did not settle)"
		}
	}
	line("complete", "%s", verdict)
	line("machine", "load average %.2f; over the window: generator cpu %.0f %%, machine cpu %.0f %% of %d CPUs",
		r.LoadAverage, r.GeneratorCPUPercent, r.MachineCPUPercent, r.CPUs)
	_, err := io.WriteString(w, b.String())
	return err
}
