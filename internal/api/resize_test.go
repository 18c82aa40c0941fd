package api

import (
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/shoal-live/shoal/internal/store"
	"github.com/shoal-live/shoal/internal/store/storetest"
)

// red5Resize is the reference's resize body, counts as strings.
const red5Resize = `{"region":[{"name":"local","info":{"minPublishers":"500","maxPublishers":"1000","minSubscribers":"1000","maxSubscribers":"3000"}}]}`

// resizeBody is a resize of one region with numbers.
func resizeBody(region string, minPub, maxPub, minSub, maxSub int) map[string]any {
	return map[string]any{"region": []any{map[string]any{"name": region, "info": map[string]any{
		"minPublishers": minPub, "maxPublishers": maxPub, "minSubscribers": minSub, "maxSubscribers": maxSub,
	}}}}
}

// tierOneLimits returns the origin and edge limits of a region of a
// stored policy.
func tierOneLimits(t *testing.T, st *store.Store, policy, region string) [2]limits {
	t.Helper()
	p, err := st.Policy(t.Context(), policy)
	if err != nil {
		t.Fatalf("Policy(%s): %v", policy, err)
	}
	var out [2]limits
	found := 0
	for _, reg := range p.Regions {
		if reg.Name != region {
			continue
		}
		for _, tg := range reg.Targets {
			switch tg.Role {
			case store.RoleOrigin:
				out[0], found = limits{tg.MinLimit, tg.MaxLimit}, found+1
			case store.RoleEdge:
				out[1], found = limits{tg.MinLimit, tg.MaxLimit}, found+1
			}
		}
	}
	if found != 2 {
		t.Fatalf("policy %s region %s has %d of the origin and edge targets, want 2", policy, region, found)
	}
	return out
}

func lims(oMin, oMax, eMin, eMax int) [2]limits {
	return [2]limits{{oMin, oMax}, {eMin, eMax}}
}

func TestNodeGroups_Resize(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		e.seed() // lc: origin capacity 30, edge 300; group g (region local) alone uses sp
		var before groupJSON
		e.want(asAdmin, "GET", "/admin/nodegroup/g", nil, http.StatusOK, &before)

		// Red5's example: 500-1000 publishers on origins of 30, 1000-3000
		// subscribers on edges of 300.
		var got resizedGroupJSON
		e.want(asAdmin, "PUT", "/admin/nodegroup/g", red5Resize, http.StatusOK, &got)
		if diff := cmp.Diff(before, got.groupJSON); diff != "" {
			t.Errorf("resized group differs from GET (-GET +PUT):\n%s", diff)
		}
		want := resizeResultJSON{
			PreviousPolicy: "sp", SharedWith: []string{},
			Region: []resizedRegionJSON{{Name: "local", Target: []limitJSON{
				{Role: "origin", MinLimit: 17, MaxLimit: 34, ConnectionCapacity: 30},
				{Role: "edge", MinLimit: 4, MaxLimit: 10, ConnectionCapacity: 300},
			}}},
			Total: []limitJSON{
				{Role: "origin", MinLimit: 17, MaxLimit: 34, ConnectionCapacity: 30},
				{Role: "edge", MinLimit: 4, MaxLimit: 10, ConnectionCapacity: 300},
			},
		}
		if diff := cmp.Diff(want, got.Resize); diff != "" {
			t.Errorf("resize (-want +got):\n%s", diff)
		}
		// The policy was rewritten in place: the region and the default
		// region (what the autoscaler reads) have the limits.
		for _, region := range []string{"local", "default"} {
			if l := tierOneLimits(t, st, "sp", region); l != lims(17, 34, 4, 10) {
				t.Errorf("sp %s limits = %v, want origins 17-34, edges 4-10", region, l)
			}
		}
		p, _ := st.Policy(t.Context(), "sp")
		if tg, _ := p.Target("local", store.RoleEdge); tg.CoolDownPeriod != 0 || tg.ScaleAdjustment != 0 {
			t.Errorf("local edge target = %+v: the other fields should be the default region's", tg)
		}

		// Numbers work too; no clients still means one origin.
		e.want(asAdmin, "PUT", "/admin/nodegroup/g", resizeBody("local", 0, 0, 0, 0), http.StatusOK, &got)
		if l := tierOneLimits(t, st, "sp", "default"); l != lims(1, 1, 0, 0) {
			t.Errorf("sp default limits after a resize to 0 = %v, want origins 1-1, edges 0-0", l)
		}
		// Exact multiples are not rounded up.
		e.want(asAdmin, "PUT", "/admin/nodegroup/g", resizeBody("local", 30, 61, 300, 301), http.StatusOK, &got)
		if l := tierOneLimits(t, st, "sp", "default"); l != lims(1, 3, 1, 2) {
			t.Errorf("sp default limits = %v, want origins 1-3, edges 1-2", l)
		}
	})
}

// TestNodeGroups_ResizeRegions: a group of two regions, one resized. The
// other keeps the limits it had (the default region's, copied), and the
// default region gets the sums.
func TestNodeGroups_ResizeRegions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		e.seed()
		e.want(asAdmin, "POST", "/admin/configurations/scalepolicy", examplePolicy, http.StatusCreated, nil)
		if _, err := st.CreateGroup(t.Context(), store.NodeGroup{Name: "m", Regions: []string{"us-west-2", "eu"}, LaunchConfig: "lc", ScalePolicy: "oe-multiregion"}); err != nil {
			t.Fatal(err)
		}
		var got resizedGroupJSON
		e.want(asAdmin, "PUT", "/admin/nodegroup/m", resizeBody("us-west-2", 10, 100, 0, 1000), http.StatusOK, &got)
		for region, want := range map[string][2]limits{
			"us-west-2": lims(1, 4, 0, 4),
			"eu":        lims(1, 10, 1, 20), // the default region's, before
			"default":   lims(2, 14, 1, 24), // the sums
		} {
			if l := tierOneLimits(t, st, "oe-multiregion", region); l != want {
				t.Errorf("region %s limits = %v, want %v", region, l, want)
			}
		}
		wantTotal := []limitJSON{
			{Role: "origin", MinLimit: 2, MaxLimit: 14, ConnectionCapacity: 30},
			{Role: "edge", MinLimit: 1, MaxLimit: 24, ConnectionCapacity: 300},
		}
		if diff := cmp.Diff(wantTotal, got.Resize.Total); diff != "" {
			t.Errorf("total (-want +got):\n%s", diff)
		}
		p, _ := st.Policy(t.Context(), "oe-multiregion")
		// The policy came through the API; it still passes its checks
		// (every region lists the same roles, a default region, ...).
		if _, err := toPolicy(fromPolicy(p)); err != nil {
			t.Errorf("policy after resize is not valid: %v", err)
		}
		if tg, _ := p.Target("us-west-2", store.RoleEdge); tg.ScaleInWaitTime != time.Second {
			t.Errorf("us-west-2 edge = %+v: a resize must keep the fields other than the limits", tg)
		}
	})
}

// TestNodeGroups_ResizeSharedPolicy: a group sharing its policy gets one
// of its own; the other group keeps the policy and its limits.
func TestNodeGroups_ResizeSharedPolicy(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		e.seed()
		e.group("h", "local")
		var got resizedGroupJSON
		e.want(asAdmin, "PUT", "/admin/nodegroup/g", red5Resize, http.StatusOK, &got)
		if got.ScalePolicy != "g-policy" || !got.Resize.PolicyCreated || got.Resize.PreviousPolicy != "sp" ||
			!cmp.Equal(got.Resize.SharedWith, []string{"h"}) {
			t.Errorf("resize of a group sharing sp with h = %+v, want a new policy g-policy", got)
		}
		var g, h groupJSON
		e.want(asAdmin, "GET", "/admin/nodegroup/g", nil, http.StatusOK, &g)
		e.want(asAdmin, "GET", "/admin/nodegroup/h", nil, http.StatusOK, &h)
		if g.ScalePolicy != "g-policy" || h.ScalePolicy != "sp" {
			t.Errorf("g uses %s, h uses %s; want g-policy and sp", g.ScalePolicy, h.ScalePolicy)
		}
		if l := tierOneLimits(t, st, "sp", "default"); l != lims(1, 2, 1, 10) {
			t.Errorf("sp (h's) default limits = %v, want unchanged origins 1-2, edges 1-10", l)
		}
		if l := tierOneLimits(t, st, "g-policy", "default"); l != lims(17, 34, 4, 10) {
			t.Errorf("g-policy default limits = %v, want origins 17-34, edges 4-10", l)
		}
		var doc policyEnvelope
		e.want(asAdmin, "GET", "/admin/configurations/scalepolicy/g-policy", nil, http.StatusOK, &doc)
		if doc.Policy.Description == "" {
			t.Error("g-policy has no description saying where it comes from")
		}

		// g alone uses g-policy now: the next resize edits it in place.
		e.want(asAdmin, "PUT", "/admin/nodegroup/g", resizeBody("local", 1, 60, 1, 300), http.StatusOK, &got)
		if got.ScalePolicy != "g-policy" || got.Resize.PolicyCreated || len(got.Resize.SharedWith) != 0 {
			t.Errorf("second resize = %+v, want g-policy edited in place", got)
		}
		if l := tierOneLimits(t, st, "g-policy", "default"); l != lims(1, 2, 1, 1) {
			t.Errorf("g-policy default limits = %v, want origins 1-2, edges 1-1", l)
		}
		if l := tierOneLimits(t, st, "sp", "default"); l != lims(1, 2, 1, 10) {
			t.Errorf("sp default limits = %v, want unchanged", l)
		}
	})
}

func TestNodeGroups_ResizeErrors(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		e.seed()
		ctx := t.Context()
		// tier2 uses a policy with relays; lcx has no edge target.
		if err := st.CreatePolicy(ctx, store.ScalePolicy{Name: "tier2", Regions: []store.PolicyRegion{{Name: "default", Targets: []store.PolicyTarget{
			{Role: store.RoleOrigin, MinLimit: 1, MaxLimit: 2}, {Role: store.RoleEdge, MinLimit: 1, MaxLimit: 2}, {Role: store.RoleRelay, MinLimit: 1, MaxLimit: 2},
		}}}}); err != nil {
			t.Fatal(err)
		}
		if err := st.CreateLaunchConfig(ctx, store.LaunchConfig{Name: "lcx", Image: "i", Targets: []store.LaunchTarget{{Role: store.RoleOrigin, ConnectionCapacity: 30}}}); err != nil {
			t.Fatal(err)
		}
		for _, g := range []store.NodeGroup{
			{Name: "t2", Regions: []string{"local"}, LaunchConfig: "lc", ScalePolicy: "tier2"},
			{Name: "noedge", Regions: []string{"local"}, LaunchConfig: "lcx", ScalePolicy: "sp"},
			{Name: "dflt", Regions: []string{"default"}, LaunchConfig: "lc", ScalePolicy: "sp"},
			{Name: "gone", Regions: []string{"local"}, LaunchConfig: "lc", ScalePolicy: "sp", State: store.GroupDeleting},
		} {
			if _, err := st.CreateGroup(ctx, g); err != nil {
				t.Fatal(err)
			}
		}
		info := func(minPub, maxPub, minSub, maxSub any) map[string]any {
			return map[string]any{"region": []any{map[string]any{"name": "local", "info": map[string]any{
				"minPublishers": minPub, "maxPublishers": maxPub, "minSubscribers": minSub, "maxSubscribers": maxSub,
			}}}}
		}
		bad := []struct {
			name   string
			group  string
			body   any
			status int
			msg    []string
		}{
			{"malformed", "g", `{"region":`, http.StatusBadRequest, []string{"malformed JSON"}},
			{"unknown field", "g", `{"region":[],"size":1}`, http.StatusBadRequest, []string{"size"}},
			{"no region", "g", `{"region":[]}`, http.StatusBadRequest, []string{"region: at least one"}},
			{"no body", "g", nil, http.StatusBadRequest, []string{"malformed JSON"}},
			{"unnamed region", "g", `{"region":[{"info":{}}]}`, http.StatusBadRequest, []string{"region[0].name: required"}},
			{"region twice", "g", `{"region":[{"name":"local","info":{"minPublishers":"1","maxPublishers":"2","minSubscribers":"1","maxSubscribers":"2"}},{"name":"local"}]}`, http.StatusBadRequest, []string{"region[1].name", "twice"}},
			{"no info", "g", `{"region":[{"name":"local"}]}`, http.StatusBadRequest, []string{"region[0].info: required"}},
			{"missing count", "g", `{"region":[{"name":"local","info":{"minPublishers":"1","maxPublishers":"2","minSubscribers":"1"}}]}`, http.StatusBadRequest, []string{"maxSubscribers: required"}},
			{"negative", "g", info(-1, 2, 1, 2), http.StatusBadRequest, []string{"region[0].info.minPublishers", ">= 0", "-1"}},
			{"negative string", "g", info("1", "2", "1", "-5"), http.StatusBadRequest, []string{"maxSubscribers", "-5"}},
			{"not a number", "g", info("lots", 2, 1, 2), http.StatusBadRequest, []string{"minPublishers", "lots"}},
			{"fraction", "g", info(1, 2.5, 1, 2), http.StatusBadRequest, []string{"maxPublishers", "2.5"}},
			{"object", "g", `{"region":[{"name":"local","info":{"minPublishers":{}}}]}`, http.StatusBadRequest, []string{"region.info.minPublishers"}},
			{"publishers min > max", "g", info(10, 5, 1, 2), http.StatusBadRequest, []string{"maxPublishers: must be >= minPublishers (10), got 5"}},
			{"subscribers min > max", "g", info(1, 5, 3, 2), http.StatusBadRequest, []string{"maxSubscribers: must be >= minSubscribers (3), got 2"}},
			{"unknown region", "g", resizeBody("mars", 1, 2, 1, 2), http.StatusBadRequest, []string{"region[0].name", `no region "mars"`, "local", "cannot add regions"}},
			{"too many nodes", "g", info(1, 2, 1, 1000000), http.StatusBadRequest, []string{"maxSubscribers", "3334 edges", "1024"}},
			{"tier 2", "t2", red5Resize, http.StatusBadRequest, []string{"relays", "tier 1"}},
			{"no edge capacity", "noedge", red5Resize, http.StatusBadRequest, []string{"lcx", "edge"}},
			{"region named default", "dflt", resizeBody("default", 1, 2, 1, 2), http.StatusBadRequest, []string{`"default"`}},
			{"unknown group", "nope", red5Resize, http.StatusNotFound, []string{"nope"}},
			{"being deleted", "gone", red5Resize, http.StatusConflict, []string{"being deleted"}},
		}
		for _, tc := range bad {
			t.Run(tc.name, func(t *testing.T) {
				e := *e
				e.t = t
				e.wantError(asAdmin, "PUT", "/admin/nodegroup/"+tc.group, tc.body, tc.status, tc.msg...)
			})
		}
		e.wantError(asNobody, "PUT", "/admin/nodegroup/g", red5Resize, http.StatusUnauthorized, "missing access token")
		e.wantError(asWrongToken, "PUT", "/admin/nodegroup/g", red5Resize, http.StatusForbidden)
		// Nothing was changed by the failures.
		if l := tierOneLimits(t, st, "sp", "default"); l != lims(1, 2, 1, 10) {
			t.Errorf("sp after failed resizes = %v, want unchanged", l)
		}
		if ps, err := st.Policies(ctx); err != nil || len(ps) != 2 {
			t.Errorf("policies after failed resizes = %d, %v; want sp and tier2 only", len(ps), err)
		}
	})
}
