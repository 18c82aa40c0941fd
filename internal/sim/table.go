package sim

import (
	"fmt"
	"io"
	"strings"

	"github.com/shoal-live/shoal/internal/scaler"
)

// Row is one line of a comparison: a named strategy and its result.
type Row struct {
	Name string
	Result
}

// Compare runs the trace under the scaler in competitive and in rigid mode,
// then under the two baselines (a fixed fleet sized for the peak, and the
// Kubernetes HPA rule), all with cfg's boot delay, capacities and policies.
func Compare(trace Trace, cfg Config) ([]Row, error) {
	runs := []struct {
		name     string
		strategy Strategy
		mode     scaler.Mode
	}{
		{"competitive", StrategyScaler, scaler.ModeCompetitive},
		{"rigid", StrategyScaler, scaler.ModeRigid},
		{"fixed (peak)", StrategyFixed, scaler.ModeCompetitive},
		{"hpa", StrategyHPA, scaler.ModeCompetitive},
	}
	rows := make([]Row, 0, len(runs))
	for _, r := range runs {
		c := cfg
		c.Strategy, c.Mode = r.strategy, r.mode
		res, err := Run(trace, c)
		if err != nil {
			return nil, fmt.Errorf("compare %s: %w", r.name, err)
		}
		rows = append(rows, Row{Name: r.name, Result: res})
	}
	return rows, nil
}

// WriteTable writes rows as a Markdown table.
func WriteTable(w io.Writer, rows []Row) error {
	var b strings.Builder
	b.WriteString("| strategy | edge node-h | origin node-h | total node-h | s over capacity | refused subscriber-s | peak refused | disconnected | peak edges | launches | drains | terminations |\n")
	b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %.1f | %.1f | %.1f | %d | %d | %d | %d | %d | %d | %d | %d |\n",
			r.Name, r.EdgeNodeHours, r.OriginNodeHours, r.NodeHours(), r.SecondsOverCapacity,
			r.RefusedSubscriberSeconds, r.PeakRefusedSubscribers, r.Disconnected, r.PeakEdges,
			r.Launches, r.Drains, r.Terminations)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
