package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// consoleUpConfig is the shoal.yml of the console test: free ports, 1 s
// reports and evaluations, room for a second edge (a sunset replaces the
// edge it drains).
const consoleUpConfig = `
http:
  addr: 127.0.0.1:0
cluster:
  report_interval: 1s
nats:
  embedded:
    listen: 127.0.0.1:0
autoscale:
  interval: 1s
  competitive_gap: 1s
  drain_timeout: 60s
  new_node_ping_timeout: 30s
seed:
  origin_min: 1
  origin_max: 1
  edge_min: 1
  edge_max: 2
`

// consoleShots is where the console tests put their screenshots (not
// committed).
var consoleShots = filepath.Join("..", "screenshots")

// consoleTab is a browser tab on the console of a running manager.
type consoleTab struct {
	t   *testing.T
	tab context.Context
}

func openConsoleTab(t *testing.T, bctx context.Context) *consoleTab {
	t.Helper()
	tab, cancel := chromedp.NewContext(bctx)
	t.Cleanup(cancel)
	// Create the tab on its own context: cancelling the context of a tab's
	// first Run closes the tab.
	if err := chromedp.Run(tab); err != nil {
		t.Fatal(err)
	}
	return &consoleTab{t: t, tab: tab}
}

func (c *consoleTab) run(what string, actions ...chromedp.Action) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.tab, 20*time.Second)
	defer cancel()
	if err := chromedp.Run(ctx, actions...); err != nil {
		c.shot("failed-" + strings.ReplaceAll(c.t.Name(), "/", "_"))
		c.t.Fatalf("console: %s: %v", what, err)
	}
}

func (c *consoleTab) eval(expr string, out any) error {
	ctx, cancel := context.WithTimeout(c.tab, 10*time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate(expr, out))
}

// waitJS waits until the JavaScript expression is true on the page.
func (c *consoleTab) waitJS(what, expr string, timeout time.Duration) {
	c.t.Helper()
	checkFor(c.t, timeout, 100*time.Millisecond, func() error {
		var ok bool
		if err := c.eval("!!("+expr+")", &ok); err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("console: %s: %s is false", what, expr)
		}
		return nil
	})
}

func (c *consoleTab) text(sel string) string {
	c.t.Helper()
	var s string
	if err := c.eval(fmt.Sprintf(`(document.querySelector(%q)||{}).textContent||""`, sel), &s); err != nil {
		c.t.Fatalf("console: read %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

func (c *consoleTab) signIn(base, token string) {
	c.t.Helper()
	c.run("sign in", chromedp.Navigate(base+"/"), chromedp.WaitVisible("#token", chromedp.ByID),
		chromedp.SendKeys("#token", token, chromedp.ByID), chromedp.Click(`#signin-form button[type=submit]`, chromedp.ByQuery))
}

func (c *consoleTab) show(view string) {
	c.t.Helper()
	c.run("show "+view, chromedp.Evaluate(fmt.Sprintf("location.hash = %q", view), nil))
	c.waitJS("view "+view, fmt.Sprintf("!document.getElementById('view-%s').hidden", view), 5*time.Second)
}

// shot saves a screenshot of the page to test/screenshots/<name>.png.
func (c *consoleTab) shot(name string) {
	c.t.Helper()
	var buf []byte
	ctx, cancel := context.WithTimeout(c.tab, 20*time.Second)
	defer cancel()
	if err := chromedp.Run(ctx, chromedp.FullScreenshot(&buf, 100)); err != nil {
		c.t.Errorf("screenshot %s: %v", name, err)
		return
	}
	if err := os.MkdirAll(consoleShots, 0o755); err != nil {
		c.t.Fatal(err)
	}
	path := filepath.Join(consoleShots, name+".png")
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		c.t.Fatal(err)
	}
	c.t.Logf("screenshot %s", path)
}

// TestConsoleShoalUp runs `shoal up` and checks the web console in
// Chromium, as issue 7 asks: the origin and the edge show INSERVICE; a
// stream published with ffmpeg and played from the edge appears with its
// origin, edge and subscriber count; moving the ball on the edge's
// BallControl page makes that object's version and change rate rise; a
// sunset drains the edge; a wrong token is refused. It saves a screenshot
// of each view.
func TestConsoleShoalUp(t *testing.T) {
	needBinary(t, "ffmpeg", "chromium")
	ctx := t.Context()
	up := smStart(t, "shoal-up", []string{"up", "--config", smWriteFile(t, "shoal.yml", consoleUpConfig), "--data-dir", t.TempDir()}, nil)
	up.waitLog(t, "cluster up", 90*time.Second)
	c := up.client
	origin := smWaitNodes(t, c, "default", "origin", "inservice", 1, 10*time.Second)[0]
	edge := smWaitNodes(t, c, "default", "edge", "inservice", 1, 10*time.Second)[0]

	bctx := newBrowser(t)
	con := openConsoleTab(t, bctx)
	con.signIn(up.url, smAdminToken)

	// Fleet: the origin and the edge, in service.
	for _, n := range []string{origin.Identifier, edge.Identifier} {
		con.waitJS(n+" in service", fmt.Sprintf(`document.querySelector('tr[data-node=%q][data-state=INSERVICE]')`, n), 20*time.Second)
	}
	con.waitJS("reports", fmt.Sprintf(`/ago$/.test((document.querySelector('tr[data-node=%q] td[data-age]')||{}).textContent)`, edge.Identifier), 10*time.Second)
	con.shot("e2e-console-fleet")

	// A publisher on the origin and a player on the edge.
	pub, err := c.Broadcast(ctx, "live", "stream1")
	if err != nil {
		t.Fatal(err)
	}
	smPublish(t, "ffmpeg-publisher", pub.RTMPURL)
	var player *smPlayer
	checkFor(t, 30*time.Second, 200*time.Millisecond, func() error {
		ep, err := c.Subscribe(ctx, "live", "stream1")
		if err != nil {
			return err
		}
		if player, err = smPlay(ctx, ep.RTMPURL); err != nil {
			return err
		}
		return nil
	})
	t.Cleanup(player.close)
	con.show("streams")
	row := `#streams-table tr[data-stream="live/stream1"]`
	con.waitJS("the stream with one subscriber on the edge",
		fmt.Sprintf(`(document.querySelector('%s .subs')||{}).textContent === "1" && (document.querySelector('%s [data-edge]')||{}).textContent === %q`,
			row, row, edge.Identifier+" · 1"), 30*time.Second)
	if got := con.text(row + " td:nth-child(2)"); !strings.Contains(got, origin.Identifier) {
		t.Errorf("live/stream1 origin cell %q, want %s", got, origin.Identifier)
	}
	con.shot("e2e-console-streams")

	// The ball moves on the edge's BallControl page: its version and rate
	// rise in the console.
	ball := openDemoTab(t, bctx, "http://"+edge.HTTPAddr()+"/demo/ballcontrol")
	con.show("objects")
	objRow := `tr[data-object="so.t.SOSample.BallControl"]`
	con.waitJS("BallControl listed", fmt.Sprintf(`document.querySelector('%s')`, objRow), 20*time.Second)
	v0, err := strconv.Atoi(con.text(objRow + " .version"))
	if err != nil {
		t.Fatalf("BallControl version: %v", err)
	}
	if got := con.text(objRow + " [data-so-node]"); !strings.HasPrefix(got, edge.Identifier) {
		t.Errorf("BallControl clients %q, want the edge %s", got, edge.Identifier)
	}
	maxRate := 0.0
	checkFor(t, 30*time.Second, 10*time.Millisecond, func() error {
		drag(t, ball, 40, 25)
		drag(t, ball, -40, -25)
		var rate float64
		if err := con.eval(fmt.Sprintf(`parseFloat(document.querySelector('%s .rate').textContent)`, objRow), &rate); err != nil {
			return err
		}
		maxRate = max(maxRate, rate)
		v, _ := strconv.Atoi(con.text(objRow + " .version"))
		if maxRate <= 0 || v < v0+10 {
			return fmt.Errorf("BallControl version %d (was %d), changes/s %v: want both to rise", v, v0, maxRate)
		}
		return nil
	})
	con.run("open BallControl", chromedp.Click(objRow, chromedp.ByQuery))
	con.waitJS("ball coordinates", `document.querySelector('#so-detail tr[data-attr=ballCoordinates] .value')`, 10*time.Second)
	t.Logf("BallControl: version %s, up to %.1f changes/s", con.text(objRow+" .version"), maxRate)
	con.shot("e2e-console-objects")

	con.show("scaling")
	con.waitJS("load charts", `document.querySelectorAll('#load-charts canvas[data-chart]').length >= 2`, 10*time.Second)
	con.shot("e2e-console-scaling")

	// Sunset the edge from the fleet view: it drains (no new clients).
	con.show("fleet")
	con.run("sunset the edge", chromedp.Click(fmt.Sprintf(`tr[data-node=%q] button[data-action=sunset]`, edge.Identifier), chromedp.ByQuery),
		chromedp.WaitVisible("#dialog-ok", chromedp.ByID), chromedp.Click("#dialog-ok", chromedp.ByID))
	con.waitJS("edge draining", fmt.Sprintf(`(document.querySelector('tr[data-node=%q]')||{dataset:{}}).dataset.draining === "true"`, edge.Identifier), 20*time.Second)
	checkFor(t, 10*time.Second, 200*time.Millisecond, func() error {
		n, err := c.Node(ctx, edge.Identifier)
		if err != nil {
			return err
		}
		if !n.Draining {
			return fmt.Errorf("edge %s not draining in the API", edge.Identifier)
		}
		return nil
	})
	con.shot("e2e-console-sunset")

	// A wrong token is refused.
	bad := openConsoleTab(t, newBrowser(t))
	bad.signIn(up.url, "not-"+smAdminToken)
	bad.waitJS("refused", `/Wrong admin token/.test(document.getElementById('signin-error').textContent) && document.getElementById('app').hidden`, 10*time.Second)
	bad.shot("e2e-console-wrong-token")
}

// openDemoTab opens a node's BallControl page in a new tab and waits until
// its shared object is connected.
func openDemoTab(t *testing.T, bctx context.Context, url string) context.Context {
	t.Helper()
	tab, cancel := chromedp.NewContext(bctx)
	t.Cleanup(cancel)
	if err := chromedp.Run(tab); err != nil {
		t.Fatal(err)
	}
	ctx, cancelRun := context.WithTimeout(tab, 20*time.Second)
	defer cancelRun()
	if err := chromedp.Run(ctx, chromedp.Navigate(url), chromedp.WaitVisible("#ball", chromedp.ByID),
		chromedp.Poll(`window.ballControl && window.ballControl.so.connected`, nil, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	return tab
}
