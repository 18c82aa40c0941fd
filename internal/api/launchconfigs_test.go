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

// exampleLaunchConfig is the reference's v0.0.3 example.
const exampleLaunchConfig = `{"launchconfig":{
  "name":"alltypes-01","description":"all roles","image":"red5pro-image-name","version":"0.0.3",
  "targets":{"target":[
    {"role":"origin","instanceType":"c5.large","connectionCapacity":"30","image":"origin-image"},
    {"role":"edge","instanceType":"c5.large","connectionCapacity":"300"},
    {"role":"relay","instanceType":"c5.large","connectionCapacity":300},
    {"role":"transcoder","instanceType":"c5.xlarge","connectionCapacity":"30"}]},
  "properties":{"property":[{"name":"network","value":"default"}]},
  "metadata":{"meta":[{"key":"team","value":"video"}]}}}`

func launchWith(old, new string) string {
	if !strings.Contains(exampleLaunchConfig, old) {
		panic("launchWith: " + old + " not in the example")
	}
	return strings.Replace(exampleLaunchConfig, old, new, 1)
}

func TestLaunchConfigs_CRUD(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		var created launchEnvelope
		e.want(asAdmin, "POST", "/admin/configurations/launchconfig", exampleLaunchConfig, http.StatusCreated, &created)
		c := created.LaunchConfig
		if c.Name != "alltypes-01" || len(c.Targets.Target) != 4 || c.Targets.Target[2].ConnectionCapacity != "300" ||
			c.Targets.Target[0].Image != "origin-image" || c.Properties.Property[0].Value != "default" || c.Metadata.Meta[0].Key != "team" {
			t.Errorf("POST launchconfig = %+v", c)
		}
		stored, err := st.LaunchConfig(t.Context(), "alltypes-01")
		if err != nil {
			t.Fatal(err)
		}
		if tg, _ := stored.Target(store.RoleEdge); tg.ConnectionCapacity != 300 || tg.Image != "red5pro-image-name" || tg.InstanceType != "c5.large" {
			t.Errorf("stored edge target = %+v", tg)
		}
		var got launchEnvelope
		e.want(asAdmin, "GET", "/admin/configurations/launchconfig/alltypes-01", nil, http.StatusOK, &got)
		if diff := cmp.Diff(created, got); diff != "" {
			t.Errorf("GET launchconfig (-want +got):\n%s", diff)
		}
		// The JSON keeps Red5 Pro's string capacity.
		_, raw := e.do(asAdmin, "GET", "/admin/configurations/launchconfig/alltypes-01", nil)
		if !strings.Contains(string(raw), `"connectionCapacity":"300"`) {
			t.Errorf("connectionCapacity not a string in %s", raw)
		}
		e.wantError(asAdmin, "POST", "/admin/configurations/launchconfig", exampleLaunchConfig, http.StatusConflict)
		e.want(asAdmin, "PUT", "/admin/configurations/launchconfig/alltypes-01", launchWith(`"300"`, `"500"`), http.StatusOK, &got)
		if got.LaunchConfig.Targets.Target[1].ConnectionCapacity != "500" {
			t.Errorf("PUT did not change the capacity: %+v", got.LaunchConfig.Targets.Target[1])
		}
		e.wantError(asAdmin, "PUT", "/admin/configurations/launchconfig/alltypes-01", launchWith(`"alltypes-01"`, `"x"`), http.StatusBadRequest, "name")
		e.wantError(asAdmin, "PUT", "/admin/configurations/launchconfig/nope", launchWith(`"name":"alltypes-01",`, ``), http.StatusNotFound)
		e.wantError(asAdmin, "GET", "/admin/configurations/launchconfig/nope", nil, http.StatusNotFound, "nope")
		var names []string
		e.want(asAdmin, "GET", "/admin/configurations/launchconfig", nil, http.StatusOK, &names)
		if diff := cmp.Diff([]string{"alltypes-01"}, names); diff != "" {
			t.Errorf("GET names (-want +got):\n%s", diff)
		}
		if err := st.CreatePolicy(t.Context(), store.ScalePolicy{Name: "sp"}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.CreateGroup(t.Context(), store.NodeGroup{Name: "g", LaunchConfig: "alltypes-01", ScalePolicy: "sp"}); err != nil {
			t.Fatal(err)
		}
		e.wantError(asAdmin, "DELETE", "/admin/configurations/launchconfig/alltypes-01", nil, http.StatusConflict, "used by")
		if _, err := st.DeleteGroup(t.Context(), "g"); err != nil {
			t.Fatal(err)
		}
		e.want(asAdmin, "DELETE", "/admin/configurations/launchconfig/alltypes-01", nil, http.StatusOK, &got)
		e.wantError(asAdmin, "DELETE", "/admin/configurations/launchconfig/alltypes-01", nil, http.StatusNotFound)
	})
}

// invalidLaunchConfigs are rejected with 400 naming the field; they also
// seed FuzzLaunchConfig.
var invalidLaunchConfigs = []struct {
	name string
	body string
	msg  string
}{
	{"malformed", `{"launchconfig":{`, "malformed JSON"},
	{"unknown field", launchWith(`"description"`, `"size":1,"description"`), `unknown field "size"`},
	{"no envelope", `{}`, "launchconfig: required"},
	{"no name", launchWith(`"name":"alltypes-01",`, ``), "name: required"},
	{"bad version", launchWith(`"0.0.3"`, `"1"`), "version: must be 0.0.3"},
	{"no targets", `{"launchconfig":{"name":"x","image":"i"}}`, "targets.target: at least one role"},
	{"bad role", launchWith(`"role":"relay"`, `"role":"mixer"`), "targets.target[2].role: must be one of"},
	{"duplicate role", launchWith(`"role":"relay"`, `"role":"edge"`), `targets.target[2].role: role "edge" listed twice`},
	{"capacity not a number", launchWith(`"300"`, `"lots"`), `targets.target[1].connectionCapacity: must be a positive integer, got "lots"`},
	{"capacity zero", launchWith(`"300"`, `"0"`), "targets.target[1].connectionCapacity"},
	{"capacity missing", launchWith(`,"connectionCapacity":"30","image":"origin-image"`, `,"image":"origin-image"`), "targets.target[0].connectionCapacity"},
	{"capacity wrong type", launchWith(`"300"`, `true`), "malformed JSON"},
	{"no image anywhere", launchWith(`"image":"red5pro-image-name",`, ``), "targets.target[1].image: required"},
	{"property without name", launchWith(`"name":"network"`, `"name":""`), "properties.property[0].name: required"},
	{"meta without key", launchWith(`"key":"team"`, `"key":""`), "metadata.meta[0].key: required"},
}

func TestLaunchConfigs_Invalid(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		for _, tc := range invalidLaunchConfigs {
			t.Run(tc.name, func(t *testing.T) {
				e := *e
				e.t = t
				e.wantError(asAdmin, "POST", "/admin/configurations/launchconfig", tc.body, http.StatusBadRequest, tc.msg)
			})
		}
	})
}

// FuzzLaunchConfig checks that any document the decoder accepts is either
// rejected with a 400 or survives a round trip through the Red5 shape.
func FuzzLaunchConfig(f *testing.F) {
	f.Add(exampleLaunchConfig)
	for _, tc := range invalidLaunchConfigs {
		f.Add(tc.body)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var env launchEnvelope
		dec := json.NewDecoder(strings.NewReader(body))
		dec.DisallowUnknownFields()
		if dec.Decode(&env) != nil {
			return
		}
		c, err := toLaunchConfig(env)
		if err != nil {
			if statusOf(err) != http.StatusBadRequest {
				t.Fatalf("toLaunchConfig error %v maps to %d, want 400", err, statusOf(err))
			}
			return
		}
		raw, err := json.Marshal(fromLaunchConfig(c))
		if err != nil {
			t.Fatal(err)
		}
		var again launchEnvelope
		if err := json.Unmarshal(raw, &again); err != nil {
			t.Fatalf("decode %s: %v", raw, err)
		}
		c2, err := toLaunchConfig(again)
		if err != nil {
			t.Fatalf("re-validating %s: %v", raw, err)
		}
		if diff := cmp.Diff(c, c2); diff != "" {
			t.Fatalf("round trip changed the configuration (-first +second):\n%s", diff)
		}
	})
}
