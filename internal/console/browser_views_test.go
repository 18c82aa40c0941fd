package console

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/shoal-live/shoal/internal/agentapi"
	"github.com/shoal-live/shoal/internal/cluster/clustertest"
	"github.com/shoal-live/shoal/internal/rtmp/amf"
	"github.com/shoal-live/shoal/internal/sharedobject"
	"github.com/shoal-live/shoal/internal/store"
)

// TestConsoleBrowser drives every view in Chromium against an in-process
// manager (store, REST API, console) with synthetic nodes and a
// shared-object node on real NATS, at 1280×800 and phone size, and takes
// a screenshot of each view.
func TestConsoleBrowser(t *testing.T) {
	url := clustertest.StartNATS(t)
	e := newEnv(t, url)
	nodes := e.synthFleet(t, 3, 4)
	ctx := t.Context()
	for _, ev := range []store.ScalingEvent{
		{Group: "default", Role: store.RoleOrigin, Action: store.ActionScaleOut, NodeID: nodes[1].ID, Reason: "origin count 0 below the policy minimum 1"},
		{Group: "default", Role: store.RoleEdge, Action: store.ActionScaleOut, NodeID: nodes[4].ID, Reason: "edge load 72% (216 subscribers / 300 capacity) > 60% alarm for 30s"},
		{Group: "default", Role: store.RoleEdge, Action: store.ActionScaleIn, NodeID: nodes[5].ID, Reason: "edge load without one node 8% (24 subscribers / 300 capacity) < 20% scale-in threshold for 1m; 3 in service, min 1"},
	} {
		if _, err := e.st.AddScalingEvent(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	soHost := nodes[3] // an edge holds the ball
	ball := startSONode(t, url, soHost.ID).m.Object(sharedobject.ObjectID{Scope: "SOSample", Name: "BallControl"})
	if err := ball.Hold(ctx); err != nil {
		t.Fatal(err)
	}
	defer ball.Release()

	p := newPage(t, newBrowser(t, 1280, 800))
	p.signIn(e.srv.URL, testToken)

	// Fleet: every node INSERVICE, with its load bar and last report.
	p.waitJS("six nodes in service", `document.querySelectorAll('#fleet-groups tr[data-node][data-state=INSERVICE]').length === 6`, 15*time.Second)
	for _, n := range nodes {
		row := fmt.Sprintf(`tr[data-node=%q]`, n.ID)
		if got := p.text(row + " .badge." + n.Role); got != n.Role {
			t.Errorf("node %s shows role %q, want %s", n.ID, got, n.Role)
		}
		p.waitJS("last report age of "+n.ID, fmt.Sprintf(`/ago$/.test(document.querySelector('%s td[data-age]').textContent)`, row), 5*time.Second)
	}
	if got := p.text(`.role-chip[data-role=edge] .load small`); got != "30/900" {
		t.Errorf("edge role load = %q, want 30/900 (1+2+3+4 subscribers on 3 edges of 300)", got)
	}
	p.shot("console-fleet")
	if os.Getenv(docsScreenshotEnv) != "" {
		src := p.shot("console-docs")
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("..", "..", "docs", "console.png"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// Streams: origin, edges and subscribers.
	p.show("streams")
	p.waitJS("12 streams", `document.querySelectorAll('#streams-table tr[data-stream]').length === 12`, 10*time.Second)
	row := `#streams-table tr[data-stream="live/s001-03"]`
	if got := p.text(row + " .subs"); got != "4" {
		t.Errorf("live/s001-03 subscribers = %q, want 4", got)
	}
	if got := p.text(row + ` [data-edge]`); got != nodes[4].ID+" · 4" {
		t.Errorf("live/s001-03 edge = %q, want %s · 4", got, nodes[4].ID)
	}
	// Live: a report with more subscribers shows without reload.
	e.report(t, agentapi.Report{NodeID: nodes[4].ID, Subscribers: 77, Connections: 77, Streams: []agentapi.Stream{{Scope: "live", Name: "s001-03", Subscribers: 77}}})
	p.waitJS("77 subscribers", fmt.Sprintf(`(document.querySelector('%s .subs')||{}).textContent === "77"`, row), 10*time.Second)
	p.shot("console-streams")

	// Shared objects: the ball's version and rate rise while it moves.
	p.show("objects")
	objRow := fmt.Sprintf(`tr[data-object=%q]`, ballKey)
	p.waitJS("ball listed", fmt.Sprintf(`document.querySelector('%s')`, objRow), 10*time.Second)
	v0, _ := strconv.Atoi(p.text(objRow + " .version"))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			if err := ball.Set(ctx, "ballCoordinates", amf.Object{{Key: "x", Value: float64(i % 300)}, {Key: "y", Value: float64(i % 200)}}); err != nil {
				t.Errorf("move the ball: %v", err)
				return
			}
		}
	})
	p.waitJS("ball moving", fmt.Sprintf(`parseFloat(document.querySelector('%[1]s .rate').textContent) >= 5 && parseInt(document.querySelector('%[1]s .version').textContent) > %[2]d`, objRow, v0+10), 15*time.Second)
	if got := p.text(objRow + " [data-so-node]"); got != soHost.ID {
		t.Errorf("ball clients = %q, want present on %s", got, soHost.ID)
	}
	p.run("open the ball", 10*time.Second, chromedp.Click(objRow, chromedp.ByQuery))
	p.waitJS("ball attributes", `document.querySelector('#so-detail tr[data-attr=ballCoordinates] .value')`, 10*time.Second)
	p.shot("console-objects")
	close(stop)
	wg.Wait()

	// Scaling: the charts, the timeline, and the alarm and policy edits.
	p.show("scaling")
	p.waitJS("three events", `document.querySelectorAll('#timeline li[data-event]').length === 3`, 10*time.Second)
	if got := p.text(`#timeline li[data-event] .reason`); got == "" {
		t.Errorf("the newest event shows no reason")
	}
	p.waitJS("load charts", `document.querySelectorAll('#load-charts canvas[data-chart]').length === 2`, 10*time.Second)
	p.run("raise the edge alarm", 10*time.Second,
		chromedp.SetValue("#alarm-edge", "72", chromedp.ByID),
		chromedp.Click(`#alarms-form button[data-role=edge]`, chromedp.ByQuery))
	checkFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		a, err := e.st.Alarm(ctx, store.RoleEdge)
		if err != nil {
			return err
		}
		if a.Threshold != 72 {
			return fmt.Errorf("edge alarm = %+v, want 72", a)
		}
		return nil
	})
	p.run("edit the edge limits", 10*time.Second,
		chromedp.SetValue(`input[data-region=default][data-role=edge][data-limit=min]`, "2", chromedp.ByQuery),
		chromedp.SetValue(`input[data-region=default][data-role=edge][data-limit=max]`, "7", chromedp.ByQuery),
		chromedp.Click(`form[data-policy=default] button[type=submit]`, chromedp.ByQuery))
	checkFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		pol, err := e.st.Policy(ctx, "default")
		if err != nil {
			return err
		}
		tg, _ := pol.Target(store.DefaultRegion, store.RoleEdge)
		if tg.MinLimit != 2 || tg.MaxLimit != 7 {
			return fmt.Errorf("edge limits %d..%d, want 2..7 (page says %q)", tg.MinLimit, tg.MaxLimit, p.toasts())
		}
		return nil
	})
	p.waitJS("chart threshold at 72", `document.querySelector('#alarm-edge').value === "72"`, 5*time.Second)
	p.shot("console-scaling")

	// Fleet actions: create a group, launch an origin, sunset and
	// terminate nodes, each through the REST API.
	p.show("fleet")
	p.run("create a group", 10*time.Second, chromedp.Click("#create-group", chromedp.ByID),
		chromedp.WaitVisible("#g-name", chromedp.ByID), chromedp.SendKeys("#g-name", "studio", chromedp.ByID))
	p.confirm()
	p.waitJS("group studio", `document.querySelector('section.group[data-group=studio]')`, 10*time.Second)
	p.run("launch an origin", 10*time.Second, chromedp.Click(`button[data-action=launch-origin][data-group=studio]`, chromedp.ByQuery))
	p.confirm()
	p.waitJS("origin pending in studio", `document.querySelector('section.group[data-group=studio] tr[data-node][data-state=PENDING]')`, 10*time.Second)
	edge := nodes[5].ID
	p.run("sunset an edge", 10*time.Second, chromedp.Click(fmt.Sprintf(`tr[data-node=%q] button[data-action=sunset]`, edge), chromedp.ByQuery))
	p.confirm()
	p.waitJS("edge draining", fmt.Sprintf(`document.querySelector('tr[data-node=%q]').dataset.draining === "true"`, edge), 10*time.Second)
	origin := nodes[2].ID
	p.run("terminate an origin", 10*time.Second, chromedp.Click(fmt.Sprintf(`tr[data-node=%q] button[data-action=terminate]`, origin), chromedp.ByQuery))
	p.confirm()
	p.waitJS("origin terminating", fmt.Sprintf(`document.querySelector('tr[data-node=%q]').dataset.state === "TERMINATING"`, origin), 10*time.Second)
	e.launcher.mu.Lock()
	if len(e.launcher.sunset) != 1 || e.launcher.sunset[0] != edge || len(e.launcher.killed) != 1 || len(e.launcher.launched) != 1 {
		t.Errorf("launcher saw sunset %v, terminate %v, launch %v; want one of each", e.launcher.sunset, e.launcher.killed, e.launcher.launched)
	}
	e.launcher.mu.Unlock()

	// A phone-sized window: same page, nothing wider than the screen.
	for _, view := range []string{"fleet", "objects", "scaling"} {
		p.run("phone size", 10*time.Second, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
		p.show(view)
		var overflow float64
		if err := p.eval(`document.documentElement.scrollWidth - window.innerWidth`, &overflow); err != nil {
			t.Fatal(err)
		}
		if overflow > 1 {
			t.Errorf("%s view at 390px is %vpx wider than the window", view, overflow)
		}
		p.shot("console-phone-" + view)
	}
}

func TestConsoleBrowserWrongToken(t *testing.T) {
	e := newEnv(t, "")
	p := newPage(t, newBrowser(t, 1280, 800))
	p.signIn(e.srv.URL, "not-the-admin-token")
	p.waitJS("refused", `/Wrong admin token/.test(document.getElementById('signin-error').textContent)`, 10*time.Second)
	var appHidden bool
	if err := p.eval(`document.getElementById('app').hidden && !sessionStorage.getItem('shoal.console.token')`, &appHidden); err != nil {
		t.Fatal(err)
	}
	if !appHidden {
		t.Errorf("the console shows or keeps a refused token")
	}
	p.shot("console-wrong-token")

	// A token that stops working (changed on the server) sends the page
	// back to the sign-in.
	p.run("stale token", 10*time.Second, chromedp.Evaluate(`sessionStorage.setItem('shoal.console.token', 'stale'); location.reload()`, nil))
	p.waitJS("sign-in again", `!document.getElementById('signin').hidden && /refused/.test(document.getElementById('signin-error').textContent)`, 10*time.Second)
	// The right token gets in.
	p.run("sign in", 10*time.Second, chromedp.SendKeys("#token", testToken, chromedp.ByID),
		chromedp.Click(`#signin-form button[type=submit]`, chromedp.ByQuery))
	p.waitJS("signed in", `!document.getElementById('app').hidden && document.getElementById('live').classList.contains('on')`, 10*time.Second)
}
