package streammanager

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/shoal-live/shoal/internal/provider"
	"github.com/shoal-live/shoal/internal/store"
)

// reconcile brings the store in step with the provider's instances and
// keeps the edges' parents current:
//
//   - a PENDING node whose instance runs becomes RUNNING;
//   - a live node whose instance terminated on its own (a process that
//     died) becomes FAULT, for the autoscaler to replace; one still FAULT
//     two evaluations later was not needed and is terminated;
//   - a node whose instance the provider no longer knows (after a restart
//     of the manager, or when the provider stopped it) is removed;
//   - a TERMINATING node nobody is deleting (a deletion that failed, or a
//     manager that stopped half-way) is destroyed again;
//   - an instance no node refers to is deleted;
//   - every in-service edge and relay has the group's in-service origins
//     as its parents (what the relations map shows).
//
// Nodes started by hand (no provider id) are only given parents.
func (m *Manager) reconcile(ctx context.Context) error {
	nodes, err := m.st.Nodes(ctx, store.NodeFilter{})
	if err != nil {
		return err
	}
	var errs []error
	if m.prov != nil {
		errs = append(errs, m.reconcileInstances(ctx, nodes))
	}
	errs = append(errs, m.reconcileParents(ctx, nodes))
	return errors.Join(errs...)
}

func (m *Manager) reconcileInstances(ctx context.Context, nodes []store.Node) error {
	insts, err := m.prov.List(ctx)
	if err != nil {
		return fmt.Errorf("list instances: %w", err)
	}
	byID := make(map[string]provider.Instance, len(insts))
	for _, in := range insts {
		byID[in.ID] = in
	}
	owned := make(map[string]bool, len(nodes))    // instance ids with a record
	launched := make(map[string]bool, len(nodes)) // node identifiers with a record
	faultGrace := 2 * m.cfg.Autoscale.Interval
	for _, n := range nodes {
		launched[n.Identifier] = true
		if n.ProviderID == "" || m.isBusy(n.ID) {
			continue
		}
		owned[n.ProviderID] = true
		in, ok := byID[n.ProviderID]
		switch {
		case !ok:
			m.removeNode(ctx, n, "instance "+n.ProviderID+" is gone")
		case n.State == store.NodeTerminating:
			m.destroyLater(ctx, n)
		case in.State == provider.StateTerminated:
			switch n.State {
			case store.NodePending, store.NodeRunning, store.NodeInService:
				m.setState(ctx, n, store.NodeFault, "instance "+in.ID+" terminated on its own")
			case store.NodeFault:
				if time.Since(n.StateChangedAt) > faultGrace {
					if err := m.terminate(ctx, n.Identifier, "instance "+in.ID+" terminated and the autoscaler did not replace it"); err != nil {
						return err
					}
				}
			case store.NodeTerminating:
			}
		case in.State == provider.StateRunning && n.State == store.NodePending:
			m.setState(ctx, n, store.NodeRunning, "instance "+in.ID+" running")
		}
	}
	for _, in := range insts {
		if owned[in.ID] || launched[in.Spec.NodeID] || in.State == provider.StateTerminating {
			continue
		}
		m.logger.Info("deleting an instance no node refers to", "instance_id", in.ID, "node", in.Spec.NodeID)
		id := in.ID
		if err := m.tasks.Go(ctx, func(ctx context.Context) { m.deleteInstance(ctx, id, m.logger) }); err != nil {
			return err
		}
	}
	return nil
}

// destroyLater destroys a TERMINATING node in the background, unless the
// manager is stopping.
func (m *Manager) destroyLater(ctx context.Context, n store.Node) {
	if err := m.tasks.Go(ctx, func(ctx context.Context) { m.destroy(ctx, n) }); err != nil {
		m.logger.Debug("node destruction postponed", "node", n.Identifier, "err", err)
	}
}

// reconcileParents sets each in-service edge's and relay's parents to the
// in-service origins of its group.
func (m *Manager) reconcileParents(ctx context.Context, nodes []store.Node) error {
	origins := map[string][]string{}
	for _, n := range nodes {
		if n.State == store.NodeInService && n.Role.Publishes() {
			origins[n.Group] = append(origins[n.Group], n.HostPort())
		}
	}
	for g := range origins {
		slices.Sort(origins[g])
	}
	for _, n := range nodes {
		if n.State != store.NodeInService || (n.Role != store.RoleEdge && n.Role != store.RoleRelay) {
			continue
		}
		want := origins[n.Group]
		if want == nil {
			want = []string{}
		}
		got := slices.Sorted(slices.Values(n.Parents))
		if slices.Equal(got, want) {
			continue
		}
		if err := m.st.SetNodeParents(ctx, n.ID, want); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		m.logger.Info("node parents changed", "node", n.Identifier, "group", n.Group, "parents", want)
	}
	return nil
}
