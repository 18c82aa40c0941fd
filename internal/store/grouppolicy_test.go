package store_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/shoal-live/shoal/internal/store"
	"github.com/shoal-live/shoal/internal/store/storetest"
)

// setOriginMax returns an edit that sets the default region's origin
// maxLimit.
func setOriginMax(v int) func(store.NodeGroup, store.ScalePolicy, []string) (store.ScalePolicy, error) {
	return func(_ store.NodeGroup, p store.ScalePolicy, _ []string) (store.ScalePolicy, error) {
		p.Regions[0].Targets[0].MaxLimit = v
		return p, nil
	}
}

func originMax(t *testing.T, st *store.Store, policy string) int {
	t.Helper()
	p, err := st.Policy(t.Context(), policy)
	if err != nil {
		t.Fatalf("Policy(%s): %v", policy, err)
	}
	return p.Regions[0].Targets[0].MaxLimit
}

func groupPolicy(t *testing.T, st *store.Store, group string) string {
	t.Helper()
	g, err := st.Group(t.Context(), group)
	if err != nil {
		t.Fatalf("Group(%s): %v", group, err)
	}
	return g.ScalePolicy
}

func seedPolicy(t *testing.T, st *store.Store, name string) {
	t.Helper()
	err := st.CreatePolicy(t.Context(), store.ScalePolicy{Name: name, Regions: []store.PolicyRegion{{
		Name: store.DefaultRegion, Targets: []store.PolicyTarget{{Role: store.RoleOrigin, MinLimit: 1, MaxLimit: 2}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
}

func TestEditGroupPolicy(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := t.Context()
		seedPolicy(t, st, "sp")
		mustGroup(t, st, "a")

		// Sole user: edited in place.
		e, err := st.EditGroupPolicy(ctx, "a", "a-policy", setOriginMax(5))
		if err != nil {
			t.Fatal(err)
		}
		if e.Copied() || e.Previous != "sp" || e.Group.ScalePolicy != "sp" || e.Policy.Name != "sp" {
			t.Errorf("sole-user edit = %+v, want sp edited in place", e)
		}
		if got := originMax(t, st, "sp"); got != 5 {
			t.Errorf("sp origin max = %d, want 5", got)
		}

		// Shared with b and c: a gets a copy; a-policy is taken, so a-policy-2.
		mustGroup(t, st, "b")
		mustGroup(t, st, "c")
		seedPolicy(t, st, "a-policy")
		e, err = st.EditGroupPolicy(ctx, "a", "a-policy", setOriginMax(7))
		if err != nil {
			t.Fatal(err)
		}
		want := store.GroupPolicyEdit{Previous: "sp", SharedWith: []string{"b", "c"}}
		if diff := cmp.Diff(want, store.GroupPolicyEdit{Previous: e.Previous, SharedWith: e.SharedWith}); diff != "" || !e.Copied() {
			t.Errorf("shared edit (-want +got):\n%s", diff)
		}
		if e.Policy.Name != "a-policy-2" || e.Group.ScalePolicy != "a-policy-2" || groupPolicy(t, st, "a") != "a-policy-2" {
			t.Errorf("shared edit = %+v; group a uses %s; want a-policy-2", e, groupPolicy(t, st, "a"))
		}
		for policy, want := range map[string]int{"sp": 5, "a-policy": 2, "a-policy-2": 7} {
			if got := originMax(t, st, policy); got != want {
				t.Errorf("%s origin max = %d, want %d", policy, got, want)
			}
		}
		if groupPolicy(t, st, "b") != "sp" || groupPolicy(t, st, "c") != "sp" {
			t.Error("groups b and c no longer use sp")
		}

		// An edit error writes nothing and comes back as it is.
		boom := errors.New("boom")
		_, err = st.EditGroupPolicy(ctx, "b", "b-policy", func(store.NodeGroup, store.ScalePolicy, []string) (store.ScalePolicy, error) {
			return store.ScalePolicy{}, boom
		})
		if !errors.Is(err, boom) || err.Error() != "boom" {
			t.Errorf("edit error = %v, want it unwrapped", err)
		}
		if _, err := st.Policy(ctx, "b-policy"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("b-policy after a failed edit: %v, want ErrNotFound", err)
		}
		if _, err := st.EditGroupPolicy(ctx, "nope", "x", setOriginMax(1)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("EditGroupPolicy(nope) = %v, want ErrNotFound", err)
		}
	})
}

// TestEditGroupPolicy_Concurrent: concurrent edits of one group are not
// lost, and two groups sharing a policy edited at once end with a policy
// each, both edits kept.
func TestEditGroupPolicy_Concurrent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := t.Context()
		seedPolicy(t, st, "sp")
		mustGroup(t, st, "a")
		const n = 8
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for range n {
			wg.Go(func() {
				_, err := st.EditGroupPolicy(ctx, "a", "a-policy", func(_ store.NodeGroup, p store.ScalePolicy, _ []string) (store.ScalePolicy, error) {
					p.Regions[0].Targets[0].MaxLimit++
					return p, nil
				})
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if got := originMax(t, st, "sp"); got != 2+n {
			t.Errorf("origin max after %d concurrent increments = %d, want %d", n, got, 2+n)
		}

		mustGroup(t, st, "b")
		wg.Go(func() { _, err := st.EditGroupPolicy(ctx, "a", "a-policy", setOriginMax(100)); noError(t, err) })
		wg.Go(func() { _, err := st.EditGroupPolicy(ctx, "b", "b-policy", setOriginMax(200)); noError(t, err) })
		wg.Wait()
		pa, pb := groupPolicy(t, st, "a"), groupPolicy(t, st, "b")
		if pa == pb {
			t.Fatalf("groups a and b both use %s after editing a shared policy at once", pa)
		}
		if got := fmt.Sprint(originMax(t, st, pa), originMax(t, st, pb)); got != "100 200" {
			t.Errorf("origin max of a (%s), b (%s) = %s, want 100 200", pa, pb, got)
		}
	})
}

func noError(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Error(err)
	}
}
