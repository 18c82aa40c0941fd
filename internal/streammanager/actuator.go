package streammanager

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/shoal-live/shoal/internal/provider"
	"github.com/shoal-live/shoal/internal/store"
)

// actuator carries out the autoscaler's decisions (scaler's actuator).
type actuator struct{ m *Manager }

// Launch creates a PENDING node record and asks the provider for its
// instance in the background.
func (a actuator) Launch(ctx context.Context, group, role, reason string) error {
	n, err := a.m.launch(ctx, group, store.Role(role), reason)
	if err != nil {
		return err
	}
	// The scaler records the event right after this call returns (its
	// Step is serialised): hand it the new node's identifier.
	a.m.mu.Lock()
	a.m.mu.launched[roleKey{group, store.Role(role)}] = n.Identifier
	a.m.mu.Unlock()
	return nil
}

// Drain marks the node draining: it gets no new clients, and the node
// learns it from the answer to its next report.
func (a actuator) Drain(ctx context.Context, nodeID, reason string) error {
	return a.m.drain(ctx, nodeID, reason)
}

// Terminate moves the node to TERMINATING and deletes its instance in the
// background; the record is removed once the instance is gone.
func (a actuator) Terminate(ctx context.Context, nodeID, reason string) error {
	return a.m.terminate(ctx, nodeID, reason)
}

// launcher is the API's nodeLauncher and groupRemover.
type launcher struct{ m *Manager }

// LaunchOrigin launches an origin in group (POST
// /admin/nodegroup/{group}/node/origin).
func (l launcher) LaunchOrigin(ctx context.Context, group string) (store.Node, error) {
	const reason = "origin launch requested through the API"
	n, err := l.m.launch(ctx, group, store.RoleOrigin, reason)
	if err != nil {
		return store.Node{}, err
	}
	l.m.recordAPIEvent(ctx, store.ScalingEvent{Group: group, Role: store.RoleOrigin, Action: store.ActionScaleOut, NodeID: n.Identifier, Reason: reason})
	return n, nil
}

// Terminate terminates a node (DELETE /admin/node/{addr}). With force the
// node goes at once; otherwise it is drained and the autoscaler terminates
// it when its clients are gone or the drain timeout passes, launching a
// replacement if the group falls below its minimum.
func (l launcher) Terminate(ctx context.Context, nodeID string, force bool) error {
	n, err := l.m.st.NodeByIdentifier(ctx, nodeID)
	if err != nil {
		return err
	}
	if force {
		const reason = "termination forced through the API"
		if err := l.m.terminate(ctx, nodeID, reason); err != nil {
			return err
		}
		l.m.recordAPIEvent(ctx, store.ScalingEvent{Group: n.Group, Role: n.Role, Action: store.ActionTerminate, NodeID: nodeID, Reason: reason})
		return nil
	}
	const reason = "termination requested through the API: draining first"
	if err := l.m.drain(ctx, nodeID, reason); err != nil {
		return err
	}
	l.m.recordAPIEvent(ctx, store.ScalingEvent{Group: n.Group, Role: n.Role, Action: store.ActionDrain, NodeID: nodeID, Reason: reason})
	return nil
}

// Sunset launches one replacement for each node (the API has marked them
// draining); the autoscaler terminates each once its clients are gone.
func (l launcher) Sunset(ctx context.Context, nodeIDs []string) error {
	for _, id := range nodeIDs {
		n, err := l.m.st.NodeByIdentifier(ctx, id)
		if err != nil {
			return err
		}
		l.m.recordAPIEvent(ctx, store.ScalingEvent{
			Group: n.Group, Role: n.Role, Action: store.ActionDrain, NodeID: id,
			Reason: "sunset requested through the API",
		})
		reason := "replacement for sunset node " + id
		r, err := l.m.launch(ctx, n.Group, n.Role, reason)
		if err != nil {
			return fmt.Errorf("replace %s: %w", id, err)
		}
		l.m.recordAPIEvent(ctx, store.ScalingEvent{Group: n.Group, Role: n.Role, Action: store.ActionReplace, NodeID: r.Identifier, Reason: reason})
	}
	return nil
}

// RemoveGroup terminates the group's nodes in the background, then
// deletes the group.
func (l launcher) RemoveGroup(ctx context.Context, group string) error {
	m := l.m
	return m.tasks.Go(ctx, func(ctx context.Context) {
		log := m.logger.With("group", group)
		nodes, err := m.st.Nodes(ctx, store.NodeFilter{Group: group})
		if err != nil {
			log.Warn("group removal failed", "err", err)
			return
		}
		var wg sync.WaitGroup
		for _, n := range nodes {
			if n.State != store.NodeTerminating {
				if n, err = m.st.SetNodeState(ctx, n.ID, store.NodeTerminating, "group "+group+" deleted"); err != nil {
					log.Warn("node termination failed", "node", n.Identifier, "err", err)
					continue
				}
			}
			wg.Go(func() { m.destroy(ctx, n) })
		}
		wg.Wait()
		// Nodes whose instance is still being created are deleted by
		// their launch once it finds the record gone.
		if _, err := m.st.DeleteGroup(ctx, group); err != nil && !errors.Is(err, store.ErrNotFound) {
			log.Warn("group removal failed", "err", err)
			return
		}
		log.Info("node group removed", "nodes", len(nodes))
	})
}

// launch creates a PENDING node of role in group and hands the creation of
// its instance to a background task.
func (m *Manager) launch(ctx context.Context, group string, role store.Role, reason string) (store.Node, error) {
	g, err := m.st.Group(ctx, group)
	if err != nil {
		return store.Node{}, err
	}
	if g.State == store.GroupDeleting {
		return store.Node{}, fmt.Errorf("group %s is being deleted: %w", group, store.ErrConflict)
	}
	lc, err := m.st.LaunchConfig(ctx, g.LaunchConfig)
	if err != nil {
		return store.Node{}, fmt.Errorf("launch configuration of group %s: %w", group, err)
	}
	t, ok := lc.Target(role)
	if !ok {
		return store.Node{}, fmt.Errorf("launch configuration %s has no target for role %s: %w", lc.Name, role, store.ErrConflict)
	}
	region, err := m.pickRegion(ctx, g, role)
	if err != nil {
		return store.Node{}, err
	}
	n, err := m.st.CreateNode(ctx, store.Node{
		Group: g.Name, Role: role, Region: region, Zone: region, LaunchConfig: lc.Name, Capacity: t.ConnectionCapacity,
	})
	if err != nil {
		return store.Node{}, err
	}
	spec := provider.Spec{
		Group: g.Name, Role: string(role), Region: region, InstanceType: t.InstanceType, Image: cmp.Or(t.Image, lc.Image),
		NodeID: n.Identifier, ManagerURL: m.url, Secret: m.secret, NATSURL: m.natsURL,
		Env: map[string]string{}, Metadata: map[string]string{"shoal-group": g.Name, "shoal-role": string(role)},
	}
	for _, p := range lc.Properties {
		spec.Env[p.Name] = p.Value
	}
	for _, md := range lc.Metadata {
		spec.Metadata[md.Key] = md.Value
	}
	m.setLaunching(n.ID, true)
	if err := m.tasks.Go(ctx, func(ctx context.Context) { m.createInstance(ctx, n, spec) }); err != nil {
		m.setLaunching(n.ID, false)
		m.removeNode(context.WithoutCancel(ctx), n, "launch not started: "+err.Error())
		return store.Node{}, fmt.Errorf("launch %s in group %s: %w", role, group, err)
	}
	m.logger.Info("node launch requested", "node", n.Identifier, "group", g.Name, "role", string(role), "region", region, "reason", reason)
	return n, nil
}

// pickRegion returns the group region with the fewest nodes of role, the
// earlier region among equals: Red5 Pro uses a group's regions round-robin.
func (m *Manager) pickRegion(ctx context.Context, g store.NodeGroup, role store.Role) (string, error) {
	if len(g.Regions) == 0 {
		return m.cfg.Seed.Region, nil
	}
	if len(g.Regions) == 1 {
		return g.Regions[0], nil
	}
	nodes, err := m.st.Nodes(ctx, store.NodeFilter{Group: g.Name, Role: role})
	if err != nil {
		return "", err
	}
	count := map[string]int{}
	for _, n := range nodes {
		count[n.Region]++
	}
	best := g.Regions[0]
	for _, r := range g.Regions[1:] {
		if count[r] < count[best] {
			best = r
		}
	}
	return best, nil
}

// createInstance asks the provider for the node's instance and records it.
// A node terminated meanwhile has its new instance deleted at once.
func (m *Manager) createInstance(ctx context.Context, n store.Node, spec provider.Spec) {
	log := m.logger.With("node", n.Identifier, "group", n.Group, "role", string(n.Role))
	inst, err := m.prov.Create(ctx, spec)
	// What the provider did must be recorded even if the manager is
	// stopping: the records are what the last reconciliation cleans up.
	ctx = context.WithoutCancel(ctx)
	if err != nil {
		m.setLaunching(n.ID, false)
		log.Warn("node launch failed", "err", err)
		m.removeNode(ctx, n, "launch failed: "+err.Error())
		return
	}
	cur, err := m.st.Node(ctx, n.ID)
	if err == nil {
		rec := store.Instance{ProviderID: inst.ID}
		if cur.Address == "" {
			rec.Address = inst.Address // the node's registration has the last word
		}
		err = m.st.SetNodeInstance(ctx, n.ID, rec)
	}
	m.setLaunching(n.ID, false)
	if errors.Is(err, store.ErrNotFound) {
		log.Info("node removed while launching, deleting its instance", "instance_id", inst.ID)
		m.deleteInstance(ctx, inst.ID, log)
		return
	}
	if err != nil {
		log.Warn("recording the node's instance failed, deleting it", "instance_id", inst.ID, "err", err)
		m.deleteInstance(ctx, inst.ID, log)
		m.removeNode(ctx, n, "launch failed: "+err.Error())
		return
	}
	log.Info("node instance created", "instance_id", inst.ID, "instance_state", inst.State.String(), "address", inst.Address)
	// Read again: the node may have been terminated, or have registered,
	// while the instance was created.
	cur, err = m.st.Node(ctx, n.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		log.Info("node removed while launching, deleting its instance", "instance_id", inst.ID)
		m.deleteInstance(ctx, inst.ID, log)
	case err != nil:
		log.Warn("reading the launched node failed", "err", err) // the reconciler catches up
	case cur.State == store.NodeTerminating:
		m.destroy(ctx, cur)
	case cur.State == store.NodePending && inst.State == provider.StateRunning:
		m.setState(ctx, cur, store.NodeRunning, "instance "+inst.ID+" running")
	}
}

// drain marks a node draining.
func (m *Manager) drain(ctx context.Context, nodeID, reason string) error {
	n, err := m.st.NodeByIdentifier(ctx, nodeID)
	if err != nil {
		return err
	}
	if _, err := m.st.SetNodeDraining(ctx, n.ID, true, reason); err != nil {
		return err
	}
	m.logger.Info("node draining", "node", nodeID, "group", n.Group, "role", string(n.Role), "reason", reason)
	return nil
}

// terminate moves a node to TERMINATING and destroys it in the background.
func (m *Manager) terminate(ctx context.Context, nodeID, reason string) error {
	n, err := m.st.NodeByIdentifier(ctx, nodeID)
	if err != nil {
		return err
	}
	if n.State != store.NodeTerminating {
		if n, err = m.st.SetNodeState(ctx, n.ID, store.NodeTerminating, reason); err != nil {
			return err
		}
	}
	m.logger.Info("node terminating", "node", nodeID, "group", n.Group, "role", string(n.Role), "reason", reason)
	if m.prov == nil {
		_, err := m.st.DeleteNode(ctx, n.ID, "terminated without a provider: "+reason)
		return err
	}
	return m.tasks.Go(ctx, func(ctx context.Context) { m.destroy(ctx, n) })
}

// destroy deletes a TERMINATING node's instance, then its record. A node
// whose instance is still being created is left to its launch, which
// destroys it when it finds it TERMINATING; a node being destroyed is left
// alone.
func (m *Manager) destroy(ctx context.Context, n store.Node) {
	m.mu.Lock()
	if m.mu.launching[n.ID] || m.mu.destroying[n.ID] {
		m.mu.Unlock()
		return
	}
	m.mu.destroying[n.ID] = true
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		delete(m.mu.destroying, n.ID)
		m.mu.Unlock()
	}()
	log := m.logger.With("node", n.Identifier, "group", n.Group, "role", string(n.Role))
	cur, err := m.st.Node(ctx, n.ID) // the provider id may have been recorded since
	if errors.Is(err, store.ErrNotFound) {
		return
	}
	if err != nil {
		log.Warn("node termination failed", "err", err)
		return
	}
	if cur.ProviderID != "" {
		if err := m.prov.Delete(ctx, cur.ProviderID); err != nil && !errors.Is(err, provider.ErrNotFound) {
			log.Warn("node instance deletion failed, retrying later", "instance_id", cur.ProviderID, "err", err)
			return // still TERMINATING: the reconciler tries again
		}
	}
	ctx = context.WithoutCancel(ctx) // the instance is gone: its record must go too
	if _, err := m.st.DeleteNode(ctx, n.ID, "instance deleted"); err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			log.Warn("node record removal failed", "err", err)
		}
		return
	}
	log.Info("node removed", "instance_id", cur.ProviderID)
}

// deleteInstance deletes an instance that has no node record.
func (m *Manager) deleteInstance(ctx context.Context, id string, log *slog.Logger) {
	if err := m.prov.Delete(ctx, id); err != nil && !errors.Is(err, provider.ErrNotFound) {
		log.Warn("instance deletion failed", "instance_id", id, "err", err)
	}
}

// removeNode moves a node that has no instance to TERMINATING and removes
// its record.
func (m *Manager) removeNode(ctx context.Context, n store.Node, reason string) {
	if _, err := m.st.SetNodeState(ctx, n.ID, store.NodeTerminating, reason); err != nil && !errors.Is(err, store.ErrNotFound) {
		m.logger.Warn("node termination failed", "node", n.Identifier, "err", err)
	}
	if _, err := m.st.DeleteNode(ctx, n.ID, reason); err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			m.logger.Warn("node record removal failed", "node", n.Identifier, "err", err)
		}
		return
	}
	m.logger.Info("node removed", "node", n.Identifier, "group", n.Group, "role", string(n.Role), "reason", reason)
}

// setState moves a node to state to, ignoring a transition that another
// actor made impossible meanwhile (a node that registered, or was
// terminated).
func (m *Manager) setState(ctx context.Context, n store.Node, to store.NodeState, reason string) {
	after, err := m.st.SetNodeState(ctx, n.ID, to, reason)
	switch {
	case errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrNotFound):
		return
	case err != nil:
		m.logger.Warn("node state change failed", "node", n.Identifier, "to", string(to), "err", err)
		return
	}
	if after.State == to && n.State != to {
		m.logger.Info("node state changed", "node", n.Identifier, "group", n.Group, "role", string(n.Role),
			"from", string(n.State), "to", string(to), "reason", reason)
	}
}

func (m *Manager) setLaunching(id int64, on bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if on {
		m.mu.launching[id] = true
	} else {
		delete(m.mu.launching, id)
	}
}

func (m *Manager) isBusy(id int64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.mu.launching[id] || m.mu.destroying[id]
}
