package e2e

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"

	"github.com/shoal-live/shoal/internal/rtmp/amf"
)

// The seed's acceptance test: two servers, a BallControl client on each;
// the ball moved through one moves on the other.

func ball(x, y float64) amf.Object {
	return amf.Object{{Key: "x", Value: x}, {Key: "y", Value: y}}
}

// startPair starts two nodes on one machine sharing the first one's
// embedded NATS server.
func startPair(t *testing.T) (a, b *node) {
	t.Helper()
	a = startNode(t, nodeConfig{id: "node-a"})
	b = startNode(t, nodeConfig{id: "node-b", natsURL: a.natsURL})
	return a, b
}

// ballPath returns the values of ballCoordinates that u received as
// changes, in order.
func ballPath(u *user) []any {
	var got []any
	for _, b := range u.batches() {
		for _, e := range b.events {
			if e.typ == "change" && e.key == "ballCoordinates" {
				got = append(got, e.value)
			}
		}
	}
	return got
}

func TestClusterBallControlRTMP(t *testing.T) {
	a, b := startPair(t)
	ctx := t.Context()
	// Flash's BallControl demo speaks AMF0; the second client is AMF3 to
	// cover both encodings across nodes.
	ua := newUser("flash-a", rtmpAMF0, "SOSample", "BallControl", false)
	ub := newUser("flash-b", rtmpAMF3, "SOSample", "BallControl", false)
	for _, c := range []struct {
		u *user
		n *node
	}{{ua, a}, {ub, b}} {
		if _, _, err := c.u.connect(ctx, c.n); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.u.close)
	}

	move := func(from, to *user, x0 float64) {
		t.Helper()
		// A drag: one RequestChange per mouse move, without waiting.
		var path []amf.Object
		for i := range 20 {
			p := ball(x0+float64(i)*10, float64(i)*5)
			path = append(path, p)
			if err := from.send([]kv{{"ballCoordinates", p}}); err != nil {
				t.Fatalf("%s moves the ball: %v", from.name, err)
			}
		}
		checkFor(t, 10*time.Second, 20*time.Millisecond, func() error {
			got := ballPath(to)
			if len(got) < len(path) {
				return fmt.Errorf("%s on %s saw %d of %d positions", to.name, to.node().id, len(got), len(path))
			}
			got = got[len(got)-len(path):]
			for i := range path {
				if !amf.Equal(got[i], path[i]) {
					return fmt.Errorf("%s saw position %d = %v, want %v", to.name, i, got[i], path[i])
				}
			}
			return nil
		})
		last := path[len(path)-1]
		for _, u := range []*user{from, to} {
			if v := u.data()["ballCoordinates"]; !amf.Equal(v, last) {
				t.Errorf("%s's ball at %v, want %v", u.name, v, last)
			}
		}
		checkFor(t, 5*time.Second, 20*time.Millisecond, func() error {
			if va, vb := from.version(), to.version(); va != vb {
				return fmt.Errorf("versions differ: %s %d, %s %d", from.name, va, to.name, vb)
			}
			return nil
		})
	}
	move(ua, ub, 0)   // moved through node A, seen through node B
	move(ub, ua, 300) // and back
}

// needBinary fails the test loudly when a program it needs is missing:
// `make test` installs them (scripts/test-deps.sh).
func needBinary(t *testing.T, names ...string) {
	t.Helper()
	for _, name := range names {
		if _, err := exec.LookPath(name); err != nil {
			if os.Getenv("SHOAL_ALLOW_MISSING_TOOLS") != "" {
				t.Skipf("SKIPPED LOUDLY: %s not installed (SHOAL_ALLOW_MISSING_TOOLS set); run scripts/test-deps.sh", name)
			}
			t.Fatalf("%s not installed: run scripts/test-deps.sh (make test does)", name)
		}
	}
}

// newBrowser starts headless Chromium for the test and returns a context
// for it.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	needBinary(t, "chromium")
	path, _ := exec.LookPath("chromium")
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.Flag("headless", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 800),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
	})
	if err := chromedp.Run(bctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return bctx
}

// openBallControl opens the demo page of n in a new tab of the browser
// and waits until its shared object is connected.
func openBallControl(t *testing.T, bctx context.Context, n *node) context.Context {
	t.Helper()
	tab, cancel := chromedp.NewContext(bctx)
	t.Cleanup(cancel)
	// Create the tab on its own context: cancelling the context of a tab's
	// first Run closes the tab.
	if err := chromedp.Run(tab); err != nil {
		t.Fatal(err)
	}
	url := "http://" + n.httpAddr + "/demo/ballcontrol"
	ctx, cancelRun := context.WithTimeout(tab, 20*time.Second)
	defer cancelRun()
	err := chromedp.Run(ctx, chromedp.Navigate(url), chromedp.WaitVisible("#ball", chromedp.ByID),
		chromedp.Poll(`window.ballControl && window.ballControl.so.connected`, nil, chromedp.WithPollingTimeout(10*time.Second)))
	if err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	return tab
}

// ballPos reads the ball's position on a BallControl page.
func ballPos(ctx context.Context) (x, y float64, err error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var pos []float64
	err = chromedp.Run(ctx, chromedp.Evaluate(
		`[parseFloat(document.getElementById("ball").style.left)||0, parseFloat(document.getElementById("ball").style.top)||0]`, &pos))
	if err != nil {
		return 0, 0, err
	}
	return pos[0], pos[1], nil
}

// drag drags the ball of the tab by (dx, dy) with real mouse input.
func drag(t *testing.T, tab context.Context, dx, dy float64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, 20*time.Second)
	defer cancel()
	var stage []float64
	if err := chromedp.Run(ctx, chromedp.Evaluate(
		`(() => { const r = document.getElementById("stage").getBoundingClientRect(); return [r.left, r.top]; })()`, &stage)); err != nil {
		t.Fatal(err)
	}
	x, y, err := ballPos(tab)
	if err != nil {
		t.Fatal(err)
	}
	start := [2]float64{stage[0] + x + 30, stage[1] + y + 30} // the ball's centre
	steps := []chromedp.Action{
		// Input goes to the active tab only.
		chromedp.ActionFunc(func(ctx context.Context) error {
			c := chromedp.FromContext(ctx)
			return target.ActivateTarget(c.Target.TargetID).Do(cdp.WithExecutor(ctx, c.Browser))
		}),
		chromedp.MouseEvent(input.MousePressed, start[0], start[1], chromedp.ButtonLeft, chromedp.ClickCount(1)),
	}
	for i := 1; i <= 10; i++ {
		f := float64(i) / 10
		steps = append(steps, chromedp.MouseEvent(input.MouseMoved, start[0]+f*dx, start[1]+f*dy, chromedp.ButtonLeft))
	}
	steps = append(steps, chromedp.MouseEvent(input.MouseReleased, start[0]+dx, start[1]+dy, chromedp.ButtonLeft))
	if err := chromedp.Run(ctx, steps...); err != nil {
		t.Fatalf("drag: %v", err)
	}
}

func TestClusterBallControlBrowser(t *testing.T) {
	a, b := startPair(t)
	bctx := newBrowser(t)
	tabA := openBallControl(t, bctx, a)
	tabB := openBallControl(t, bctx, b)
	// A Flash-like RTMP client on node B watches too.
	watcher := newUser("flash-b", rtmpAMF0, "SOSample", "BallControl", false)
	if _, _, err := watcher.connect(t.Context(), b); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(watcher.close)

	follows := func(from, to context.Context, toName string) (x, y float64) {
		t.Helper()
		x, y, err := ballPos(from)
		if err != nil {
			t.Fatal(err)
		}
		checkFor(t, 10*time.Second, 50*time.Millisecond, func() error {
			x2, y2, err := ballPos(to)
			if err != nil {
				return err
			}
			if math.Abs(x2-x) > 0.5 || math.Abs(y2-y) > 0.5 {
				return fmt.Errorf("%s ball at (%v, %v), want (%v, %v)", toName, x2, y2, x, y)
			}
			return nil
		})
		checkFor(t, 10*time.Second, 50*time.Millisecond, func() error {
			if v := watcher.data()["ballCoordinates"]; !amf.Equal(v, ball(x, y)) {
				return fmt.Errorf("RTMP client on node B sees %v, want {x:%v y:%v}", v, x, y)
			}
			return nil
		})
		return x, y
	}

	drag(t, tabA, 250, 150)
	x, y := follows(tabA, tabB, "tab on node B")
	if x < 200 || y < 100 {
		t.Fatalf("ball at (%v, %v) after dragging by (250, 150) from (0, 0)", x, y)
	}
	drag(t, tabB, -100, 200)
	x2, y2 := follows(tabB, tabA, "tab on node A")
	if math.Abs(x2-(x-100)) > 1 || math.Abs(y2-(y+200)) > 1 {
		t.Errorf("ball at (%v, %v) after dragging by (-100, 200) from (%v, %v)", x2, y2, x, y)
	}
}
