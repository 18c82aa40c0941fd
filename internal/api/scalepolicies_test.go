package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/shoal-live/shoal/internal/store"
	"github.com/shoal-live/shoal/internal/store/storetest"
)

// examplePolicy is the reference's v0.0.3 example, trimmed to two regions.
const examplePolicy = `{"policy":{
  "name":"oe-multiregion","description":"two regions",
  "type":"com.red5pro.services.autoscaling.model.ScalePolicyMaster","version":"0.0.3",
  "targets":{"region":[
    {"name":"default","target":[
      {"role":"edge","minLimit":1,"maxLimit":20,"scaleAdjustment":1,"estimatedWarmUpTime":150000,"coolDownPeriod":180000},
      {"role":"origin","minLimit":1,"maxLimit":10,"scaleAdjustment":1,"estimatedWarmUpTime":150000,"coolDownPeriod":180000}]},
    {"name":"us-west-2","target":[
      {"role":"edge","minLimit":0,"maxLimit":5,"scaleInWaitTime":1000,"scaleOutWaitTime":2000},
      {"role":"origin","minLimit":0,"maxLimit":1}]}]}}}`

// policyWith returns examplePolicy with old replaced by new.
func policyWith(old, new string) string {
	if !strings.Contains(examplePolicy, old) {
		panic("policyWith: " + old + " not in the example")
	}
	return strings.Replace(examplePolicy, old, new, 1)
}

func TestScalePolicies_CRUD(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		var created policyEnvelope
		e.want(asAdmin, "POST", "/admin/configurations/scalepolicy", examplePolicy, http.StatusCreated, &created)
		var want policyEnvelope
		if err := json.Unmarshal([]byte(examplePolicy), &want); err != nil {
			t.Fatal(err)
		}
		// Omitted fields come back with their defaults.
		us := want.Policy.Targets.Region[1].Target
		for i := range us {
			us[i].ScaleAdjustment, us[i].EstimatedWarmUpTime, us[i].CoolDownPeriod = ptr(1), ptr[int64](150000), ptr[int64](180000)
		}
		us[1].ScaleInWaitTime, us[1].ScaleOutWaitTime = ptr[int64](0), ptr[int64](0)
		for i := range want.Policy.Targets.Region[0].Target {
			t := &want.Policy.Targets.Region[0].Target[i]
			t.ScaleInWaitTime, t.ScaleOutWaitTime = ptr[int64](0), ptr[int64](0)
		}
		if diff := cmp.Diff(want, created); diff != "" {
			t.Errorf("POST scalepolicy (-want +got):\n%s", diff)
		}
		stored, err := st.Policy(t.Context(), "oe-multiregion")
		if err != nil {
			t.Fatal(err)
		}
		if tg, _ := stored.Target("us-west-2", store.RoleEdge); tg.MaxLimit != 5 || tg.ScaleOutWaitTime.Milliseconds() != 2000 {
			t.Errorf("stored us-west-2 edge target = %+v", tg)
		}
		var got policyEnvelope
		e.want(asAdmin, "GET", "/admin/configurations/scalepolicy/oe-multiregion", nil, http.StatusOK, &got)
		if diff := cmp.Diff(created, got); diff != "" {
			t.Errorf("GET scalepolicy (-want +got):\n%s", diff)
		}
		e.wantError(asAdmin, "POST", "/admin/configurations/scalepolicy", examplePolicy, http.StatusConflict, "oe-multiregion")
		e.want(asAdmin, "POST", "/admin/configurations/scalepolicy", policyWith(`"oe-multiregion"`, `"a-first"`), http.StatusCreated, nil)
		var names []string
		e.want(asAdmin, "GET", "/admin/configurations/scalepolicy", nil, http.StatusOK, &names)
		if diff := cmp.Diff([]string{"a-first", "oe-multiregion"}, names); diff != "" {
			t.Errorf("GET scalepolicy names (-want +got):\n%s", diff)
		}

		e.want(asAdmin, "PUT", "/admin/configurations/scalepolicy/oe-multiregion", policyWith(`"maxLimit":20`, `"maxLimit":30`), http.StatusOK, &got)
		if *got.Policy.Targets.Region[0].Target[0].MaxLimit != 30 {
			t.Errorf("PUT did not change maxLimit: %+v", got.Policy.Targets.Region[0].Target[0])
		}
		// The name may be left out of a PUT body; the path names the policy.
		e.want(asAdmin, "PUT", "/admin/configurations/scalepolicy/oe-multiregion", policyWith(`"name":"oe-multiregion",`, ``), http.StatusOK, nil)
		e.wantError(asAdmin, "PUT", "/admin/configurations/scalepolicy/oe-multiregion", policyWith(`"oe-multiregion"`, `"other"`), http.StatusBadRequest, "name")
		e.wantError(asAdmin, "PUT", "/admin/configurations/scalepolicy/nope", policyWith(`"oe-multiregion"`, `"nope"`), http.StatusNotFound, "nope")
		e.wantError(asAdmin, "PUT", "/admin/configurations/scalepolicy/oe-multiregion", `{`, http.StatusBadRequest, "malformed JSON")
		e.wantError(asAdmin, "GET", "/admin/configurations/scalepolicy/nope", nil, http.StatusNotFound, "nope")

		// In use by a group: 409.
		if err := st.CreateLaunchConfig(t.Context(), store.LaunchConfig{Name: "lc"}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.CreateGroup(t.Context(), store.NodeGroup{Name: "g", LaunchConfig: "lc", ScalePolicy: "a-first"}); err != nil {
			t.Fatal(err)
		}
		e.wantError(asAdmin, "DELETE", "/admin/configurations/scalepolicy/a-first", nil, http.StatusConflict, "used by")
		e.want(asAdmin, "DELETE", "/admin/configurations/scalepolicy/oe-multiregion", nil, http.StatusOK, &got)
		if got.Policy.Name != "oe-multiregion" {
			t.Errorf("DELETE returned %+v", got.Policy)
		}
		e.wantError(asAdmin, "DELETE", "/admin/configurations/scalepolicy/oe-multiregion", nil, http.StatusNotFound)
	})
}

// invalidPolicies are rejected with 400 naming the field; they also seed
// FuzzScalePolicy.
var invalidPolicies = []struct {
	name string
	body string
	msg  string
}{
	{"malformed", `{"policy":`, "malformed JSON"},
	{"unknown field", policyWith(`"description"`, `"colour":"red","description"`), `unknown field "colour"`},
	{"string limit", policyWith(`"maxLimit":20`, `"maxLimit":"20"`), "malformed JSON"},
	{"no policy", `{}`, "policy: required"},
	{"no name", policyWith(`"name":"oe-multiregion",`, ``), "name: required"},
	{"bad name", policyWith(`"oe-multiregion"`, `"a/b"`), "name: must be"},
	{"bad version", policyWith(`"0.0.3"`, `"0.0.2"`), "version: must be 0.0.3"},
	{"no targets", `{"policy":{"name":"p"}}`, "targets.region: at least one region"},
	{"no default region", policyWith(`"name":"default"`, `"name":"eu"`), `a region named "default" is required`},
	{"duplicate region", policyWith(`"us-west-2"`, `"default"`), `targets.region[1].name: region "default" listed twice`},
	{"empty region name", policyWith(`"us-west-2"`, `""`), "targets.region[1].name: required"},
	{"no targets in region", `{"policy":{"name":"p","targets":{"region":[{"name":"default","target":[]}]}}}`, "targets.region[0].target: at least one role"},
	{"bad role", policyWith(`"role":"origin","minLimit":1`, `"role":"mixer","minLimit":1`), "targets.region[0].target[1].role: must be one of"},
	{"duplicate role", policyWith(`"role":"origin","minLimit":1`, `"role":"edge","minLimit":1`), `targets.region[0].target[1].role: role "edge" listed twice`},
	{"max below min", policyWith(`"minLimit":1,"maxLimit":10`, `"minLimit":3,"maxLimit":2`), "targets.region[0].target[1].maxLimit: must be >= minLimit"},
	{"negative min", policyWith(`"minLimit":0,"maxLimit":5`, `"minLimit":-1,"maxLimit":5`), "targets.region[1].target[0].minLimit: must be >= 0"},
	{"max too big", policyWith(`"maxLimit":20`, `"maxLimit":5000`), "targets.region[0].target[0].maxLimit: must be <= 1024"},
	{"missing max", policyWith(`"minLimit":0,"maxLimit":1`, `"minLimit":0`), "targets.region[1].target[1].maxLimit: required"},
	{"missing min", policyWith(`"minLimit":0,"maxLimit":1`, `"maxLimit":1`), "targets.region[1].target[1].minLimit: required"},
	{"zero adjustment", policyWith(`"scaleAdjustment":1`, `"scaleAdjustment":0`), "targets.region[0].target[0].scaleAdjustment"},
	{"negative cool-down", policyWith(`"coolDownPeriod":180000}]`, `"coolDownPeriod":-1}]`), "targets.region[0].target[1].coolDownPeriod"},
	{"negative wait", policyWith(`"scaleInWaitTime":1000`, `"scaleInWaitTime":-5`), "targets.region[1].target[0].scaleInWaitTime"},
	{"region lacks a role", policyWith(`,
      {"role":"origin","minLimit":0,"maxLimit":1}`, ``), `targets.region[1].target: every region must list the same roles as "default" (role "origin" differs)`},
}

func TestScalePolicies_Invalid(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		for _, tc := range invalidPolicies {
			t.Run(tc.name, func(t *testing.T) {
				e := *e
				e.t = t
				e.wantError(asAdmin, "POST", "/admin/configurations/scalepolicy", tc.body, http.StatusBadRequest, tc.msg)
			})
		}
		if ps, _ := st.Policies(t.Context()); len(ps) != 0 {
			t.Errorf("invalid policies were stored: %v", ps)
		}
	})
}

// FuzzScalePolicy checks that any document the decoder accepts is either
// rejected with a 400 or survives a round trip through the Red5 shape
// unchanged.
func FuzzScalePolicy(f *testing.F) {
	f.Add(examplePolicy)
	for _, tc := range invalidPolicies {
		f.Add(tc.body)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var env policyEnvelope
		dec := json.NewDecoder(strings.NewReader(body))
		dec.DisallowUnknownFields()
		if dec.Decode(&env) != nil {
			return
		}
		p, err := toPolicy(env)
		if err != nil {
			if statusOf(err) != http.StatusBadRequest {
				t.Fatalf("toPolicy error %v maps to %d, want 400", err, statusOf(err))
			}
			return
		}
		raw, err := json.Marshal(fromPolicy(p))
		if err != nil {
			t.Fatal(err)
		}
		var again policyEnvelope
		if err := json.Unmarshal(raw, &again); err != nil {
			t.Fatalf("decode %s: %v", raw, err)
		}
		p2, err := toPolicy(again)
		if err != nil {
			t.Fatalf("re-validating %s: %v", raw, err)
		}
		if diff := cmp.Diff(p, p2); diff != "" {
			t.Fatalf("round trip changed the policy (-first +second):\n%s", diff)
		}
	})
}
