package streammanager

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/shoal-live/shoal/internal/config"
	"github.com/shoal-live/shoal/internal/store"
)

// Red5 Pro's constants for seeded documents.
const (
	policyType    = "com.red5pro.services.autoscaling.model.ScalePolicyMaster"
	policyVersion = "0.0.3"
	launchVersion = "0.0.3"
	// seedWarmUp and seedCoolDown are the values of every Red5 Pro policy
	// example (estimatedWarmUpTime, coolDownPeriod).
	seedWarmUp   = 150 * time.Second
	seedCoolDown = 180 * time.Second
)

// seedLaunchConfig is the launch configuration created when absent: an
// origin and an edge target with the seed's capacities.
func seedLaunchConfig(s config.Seed) store.LaunchConfig {
	return store.LaunchConfig{
		Name: s.LaunchConfig, Description: "created by shoal at first start", Image: "shoal-node", Version: launchVersion,
		Targets: []store.LaunchTarget{
			{Role: store.RoleOrigin, InstanceType: "default", ConnectionCapacity: s.OriginCapacity},
			{Role: store.RoleEdge, InstanceType: "default", ConnectionCapacity: s.EdgeCapacity},
		},
		Properties: []store.Property{},
		Metadata:   []store.Meta{},
	}
}

// seedPolicy is the scale policy created when absent: the seed's min and
// max for origins and edges in the default region.
func seedPolicy(s config.Seed) store.ScalePolicy {
	target := func(role store.Role, minLimit, maxLimit int) store.PolicyTarget {
		return store.PolicyTarget{
			Role: role, MinLimit: minLimit, MaxLimit: maxLimit, ScaleAdjustment: 1,
			EstimatedWarmUpTime: seedWarmUp, CoolDownPeriod: seedCoolDown,
		}
	}
	return store.ScalePolicy{
		Name: s.ScalePolicy, Description: "created by shoal at first start", Type: policyType, Version: policyVersion,
		Regions: []store.PolicyRegion{{
			Name: store.DefaultRegion,
			Targets: []store.PolicyTarget{
				target(store.RoleOrigin, s.OriginMin, s.OriginMax),
				target(store.RoleEdge, s.EdgeMin, s.EdgeMax),
			},
		}},
	}
}

// seed creates the seed's launch configuration, scale policy and group
// when they are absent; existing ones are left as they are.
func seed(ctx context.Context, st *store.Store, s config.Seed, logger *slog.Logger) error {
	created := func(what, name string, err error) error {
		switch {
		case err == nil:
			logger.Info("seed created", "kind", what, "name", name)
		case errors.Is(err, store.ErrConflict): // another manager was first
		default:
			return err
		}
		return nil
	}
	if _, err := st.LaunchConfig(ctx, s.LaunchConfig); errors.Is(err, store.ErrNotFound) {
		if err := created("launch configuration", s.LaunchConfig, st.CreateLaunchConfig(ctx, seedLaunchConfig(s))); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	if _, err := st.Policy(ctx, s.ScalePolicy); errors.Is(err, store.ErrNotFound) {
		if err := created("scale policy", s.ScalePolicy, st.CreatePolicy(ctx, seedPolicy(s))); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	if s.Group == "" {
		return nil
	}
	if _, err := st.Group(ctx, s.Group); errors.Is(err, store.ErrNotFound) {
		_, err := st.CreateGroup(ctx, store.NodeGroup{
			Name: s.Group, Regions: []string{s.Region}, LaunchConfig: s.LaunchConfig, ScalePolicy: s.ScalePolicy,
		})
		return created("node group", s.Group, err)
	} else if err != nil {
		return err
	}
	return nil
}
