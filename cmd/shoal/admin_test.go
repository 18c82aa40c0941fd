package main

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shoal-live/shoal/internal/api"
	"github.com/shoal-live/shoal/internal/smclient"
	"github.com/shoal-live/shoal/internal/store"
	"github.com/shoal-live/shoal/internal/store/storetest"
)

// TestAdminCommands runs the admin commands against the real API.
func TestAdminCommands(t *testing.T) {
	st := storetest.Open(t)
	srv, err := api.New(api.Config{
		Store: st, Selector: api.NewSelector(st, api.DefaultWeights(), time.Minute, nil),
		AdminToken: "tok", ClusterSecret: "secret",
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	t.Setenv("SHOAL_URL", ts.URL)
	t.Setenv("SHOAL_TOKEN", "tok")
	ctx := context.Background()

	dir := t.TempDir()
	lc := filepath.Join(dir, "lc.json")
	sp := filepath.Join(dir, "sp.json")
	for p, doc := range map[string]string{
		lc: `{"launchconfig":{"name":"lc","image":"shoal-node","targets":{"target":[{"role":"origin","connectionCapacity":"30"},{"role":"edge","connectionCapacity":"300"}]}}}`,
		sp: `{"policy":{"name":"sp","targets":{"region":[{"name":"default","target":[{"role":"origin","minLimit":1,"maxLimit":1},{"role":"edge","minLimit":1,"maxLimit":5}]}]}}}`,
	} {
		if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	run := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		if err := runAdminTo(ctx, &out, args[0], args[1:]); err != nil {
			t.Fatalf("shoal %s: %v", strings.Join(args, " "), err)
		}
		return out.String()
	}
	run("launchconfig", "put", "lc", lc)
	run("policy", "put", "sp", sp)
	if out := run("policy", "get"); !strings.Contains(out, `"sp"`) {
		t.Errorf("policy get = %s", out)
	}
	if out := run("launchconfig", "get", "lc"); !strings.Contains(out, `"connectionCapacity": "300"`) {
		t.Errorf("launchconfig get lc = %s", out)
	}
	if _, err := smclient.New(ts.URL, "tok", nil).CreateGroup(ctx, "g", []string{"local"}, "lc", "sp"); err != nil {
		t.Fatal(err)
	}
	n, err := st.CreateNode(ctx, store.Node{Group: "g", Role: store.RoleEdge, Zone: "local", Capacity: 300})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.RegisterNode(ctx, n.ID, store.Registration{Address: "127.0.0.1", RTMPPort: 1940, HTTPPort: 5090}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddScalingEvent(ctx, store.ScalingEvent{Group: "g", Role: store.RoleEdge, Action: store.ActionScaleOut, Reason: "edge load 65%"}); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"groups"}, []string{"NAME", "g ", "local", "lc", "sp"}},
		{[]string{"nodes"}, []string{"IDENTIFIER", n.Identifier, "edge", "inservice", "127.0.0.1:1940", "127.0.0.1:5090", "300"}},
		{[]string{"nodes", "g", "-json"}, []string{`"identifier": "` + n.Identifier + `"`}},
		{[]string{"nodes", "-map", "g"}, []string{"GROUP g", "UNLINKED", "EDGE " + n.Identifier}},
		{[]string{"alarm", "set", "edge", "70%"}, []string{`"threshold": 70`}},
		{[]string{"alarm", "get"}, []string{`"role": "origin"`, `"threshold": 70`}},
		{[]string{"events", "-group", "g"}, []string{"ACTION", "scale_out", "edge load 65%"}},
		{[]string{"node", "sunset", n.Identifier}, []string{"503"}},
		{
			[]string{"groups", "resize", "g", "--region", "local", "--min-publishers", "500", "--max-publishers", "1000", "--min-subscribers", "1000", "--max-subscribers", "3000"},
			[]string{"group g: scale policy sp updated", "REGION", "local    origin  17   34   30", "local    edge    4    10   300", "(group)  origin  17   34", "next evaluation"},
		},
		{
			[]string{"groups", "resize", "-json", "g", "-region", "local", "-min-publishers", "0", "-max-publishers", "30", "-min-subscribers", "0", "-max-subscribers", "600"},
			[]string{`"scalePolicy": "sp"`, `"policyCreated": false`, `"maxLimit": 2`},
		},
	} {
		var out bytes.Buffer
		err := runAdminTo(ctx, &out, tc.args[0], tc.args[1:])
		got := out.String()
		if err != nil {
			got += err.Error()
		}
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("shoal %s = %q, want it to contain %q", strings.Join(tc.args, " "), got, w)
			}
		}
	}

	// Mistakes are reported, naming what is wrong.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"broadcast", "stream1"}, "want scope/stream"},
		{[]string{"alarm", "set", "edge", "lots"}, "not a whole percentage"},
		{[]string{"policy", "put", "sp", filepath.Join(dir, "missing.json")}, "no such file"},
		{[]string{"node", "reboot", "x"}, `unknown action "reboot"`},
		{[]string{"groups", "extra"}, `unknown action "extra"`},
		{[]string{"groups", "-region", "local"}, "-region is for groups resize"},
		{[]string{"groups", "resize", "g", "-region", "local", "-max-publishers", "5"}, "-min-publishers is required"},
		{[]string{"groups", "resize", "g", "h", "-region", "local"}, "wrong number of arguments"},
		{
			[]string{"groups", "resize", "g", "-region", "mars", "-min-publishers", "0", "-max-publishers", "1", "-min-subscribers", "0", "-max-subscribers", "1"},
			"cannot add regions",
		},
		{
			[]string{"groups", "resize", "g", "-region", "local", "-min-publishers", "5", "-max-publishers", "1", "-min-subscribers", "0", "-max-subscribers", "1"},
			"400 Bad Request: region[0].info.maxPublishers",
		},
		{[]string{"subscribe", "live/none"}, "404"},
	} {
		err := runAdminTo(ctx, &bytes.Buffer{}, tc.args[0], tc.args[1:])
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("shoal %s = %v, want an error containing %q", strings.Join(tc.args, " "), err, tc.want)
		}
	}
}

func TestPrintUp(t *testing.T) {
	var b bytes.Buffer
	origin := smclient.Node{Identifier: "node-local-1", Address: "127.0.0.1", RTMPPort: 1936, HTTPPort: 5081}
	edge := smclient.Node{Identifier: "node-local-2", Address: "127.0.0.1", RTMPPort: 1937, HTTPPort: 5082}
	printUp(&b, "http://127.0.0.1:5080", "tok", origin, edge)
	for _, want := range []string{
		"http://127.0.0.1:5080/streammanager/api/4.0",
		"event/live/stream1?action=broadcast",
		"rtmp://127.0.0.1:1936/live/stream1",
		"event/live/stream1?action=subscribe",
		"ffplay rtmp://127.0.0.1:1937/live/stream1",
		"http://127.0.0.1:5082/demo/ballcontrol",
		"http://127.0.0.1:5081/demo/ballcontrol",
		"SHOAL_TOKEN=tok",
		"Ctrl-C",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("printUp output lacks %q:\n%s", want, b.String())
		}
	}
}
