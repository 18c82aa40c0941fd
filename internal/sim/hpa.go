package sim

import (
	"context"
	"math"
	"slices"
	"time"
)

// hpaState is the Kubernetes HPA baseline's memory: each role's recent
// recommendations, for the scale-down stabilisation window.
type hpaState struct {
	recs [2][]hpaRec // by role, in s.roles() order
}

type hpaRec struct {
	at      time.Time
	replica int
}

// hpaStep applies the HPA rule to both roles and resizes them. Kubernetes
// removes pods at once (there is no drain beyond the grace period), not yet
// ready ones first, then the newest; their connections reconnect.
func (s *simulator) hpaStep(ctx context.Context) error {
	for i, r := range s.roles() {
		desired := s.hpaDesired(i, r)
		for len(r.nodes) < desired {
			if err := s.launch(ctx, r); err != nil {
				return err
			}
		}
		for len(r.nodes) > desired {
			victim := slices.MaxFunc(r.nodes, func(a, b *node) int {
				if ra, rb := a.inService(s.now), b.inService(s.now); ra != rb {
					if ra {
						return -1
					}
					return 1
				}
				return a.createdAt.Compare(b.createdAt)
			})
			if err := s.terminate(ctx, r, victim.id); err != nil {
				return err
			}
		}
	}
	return nil
}

// hpaDesired is the HPA algorithm (kubernetes.io, "Horizontal Pod
// Autoscaling", algorithm details) with the role's alarm threshold as the
// target utilisation:
//
//	desired = ceil(current × utilisation / target)
//
// measured on ready pods, skipped within the tolerance; on scale-up, pods
// not ready yet count as 0 % busy, on scale-down as exactly on target (and
// the decision is dropped if that reverses it); scale-up is limited to
// max(4 pods, 100 %) per sync period; scale-down uses the highest
// recommendation of the stabilisation window; the result is clamped to the
// policy's min and max.
func (s *simulator) hpaDesired(i int, r *role) int {
	p := r.policy
	capacity := float64(p.Capacity)
	target := float64(p.AlarmThreshold) / 100
	current := len(r.nodes)
	ready, usage := 0, 0
	for _, n := range r.nodes {
		if n.inService(s.now) {
			ready++
			usage += n.load
		}
	}
	rec := current
	tol := s.cfg.HPA.Tolerance
	if ready > 0 {
		ratio := float64(usage) / (float64(ready) * capacity) / target
		switch {
		case math.Abs(ratio-1) <= tol:
		case ratio > 1:
			r2 := float64(usage) / (float64(current) * capacity) / target
			if r2 > 1+tol {
				rec = int(math.Ceil(r2 * float64(current)))
			}
		default:
			r2 := (float64(usage) + float64(current-ready)*capacity*target) / (float64(current) * capacity) / target
			if r2 < 1-tol {
				rec = int(math.Ceil(r2 * float64(current)))
			}
		}
	}
	rec = min(rec, current+max(4, current))

	window := s.hpa.recs[i]
	cut := s.now.Add(-s.cfg.HPA.Stabilization)
	window = slices.DeleteFunc(window, func(x hpaRec) bool { return x.at.Before(cut) })
	window = append(window, hpaRec{at: s.now, replica: rec})
	s.hpa.recs[i] = window
	if rec < current {
		highest := rec
		for _, x := range window {
			highest = max(highest, x.replica)
		}
		rec = min(current, highest)
	}
	return min(max(rec, p.Min), max(p.Max, p.Min))
}
