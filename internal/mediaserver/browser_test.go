package mediaserver

import (
	"context"
	"fmt"
	"math"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"

	"github.com/shoal-live/shoal/internal/rtmp/amf"
)

// newBrowser starts headless Chromium for the test and returns a context
// for its first tab.
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

// ballPos reads the ball's position on a BallControl page.
func ballPos(ctx context.Context) (x, y float64, err error) {
	var pos []float64
	err = chromedp.Run(ctx, chromedp.Evaluate(
		`[parseFloat(document.getElementById("ball").style.left)||0, parseFloat(document.getElementById("ball").style.top)||0]`, &pos))
	if err != nil {
		return 0, 0, err
	}
	return pos[0], pos[1], nil
}

func TestE2EBallControlInBrowser(t *testing.T) {
	n := startNode(t, nil)
	bctx := newBrowser(t)
	url := n.httpURL("/demo/ballcontrol")

	// Two tabs of the same browser, each with its own WebSocket.
	tab1, cancel1 := chromedp.NewContext(bctx)
	defer cancel1()
	tab2, cancel2 := chromedp.NewContext(bctx)
	defer cancel2()
	for _, tab := range []context.Context{tab1, tab2} {
		// Create the tab on its own context: cancelling the context of a
		// tab's first Run closes the tab.
		if err := chromedp.Run(tab); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(tab, 20*time.Second)
		err := chromedp.Run(ctx, chromedp.Navigate(url), chromedp.WaitVisible("#ball", chromedp.ByID),
			chromedp.Poll(`window.ballControl && window.ballControl.so.connected`, nil, chromedp.WithPollingTimeout(10*time.Second)))
		cancel()
		if err != nil {
			t.Fatalf("open %s: %v", url, err)
		}
	}
	// A Go RTMP client speaking as the Flash demo (AMF0).
	rtmpBall := use(t, soClient(t, n, "SOSample", 0), "BallControl", false)

	// Drag the ball in tab 1 with real mouse input.
	var stage []float64
	ctx, cancel := context.WithTimeout(tab1, 20*time.Second)
	defer cancel()
	if err := chromedp.Run(ctx, chromedp.Evaluate(
		`(() => { const r = document.getElementById("stage").getBoundingClientRect(); return [r.left, r.top]; })()`, &stage)); err != nil {
		t.Fatal(err)
	}
	start := [2]float64{stage[0] + 30, stage[1] + 30} // the ball's centre at (0,0)
	steps := []chromedp.Action{
		// Input goes to the active tab only.
		chromedp.ActionFunc(func(ctx context.Context) error {
			return target.ActivateTarget(chromedp.FromContext(ctx).Target.TargetID).Do(cdp.WithExecutor(ctx, chromedp.FromContext(ctx).Browser))
		}),
		chromedp.MouseEvent(input.MousePressed, start[0], start[1], chromedp.ButtonLeft, chromedp.ClickCount(1)),
	}
	for i := 1; i <= 10; i++ {
		steps = append(steps, chromedp.MouseEvent(input.MouseMoved, start[0]+float64(i)*25, start[1]+float64(i)*15, chromedp.ButtonLeft))
	}
	steps = append(steps, chromedp.MouseEvent(input.MouseReleased, start[0]+250, start[1]+150, chromedp.ButtonLeft))
	if err := chromedp.Run(ctx, steps...); err != nil {
		t.Fatalf("drag: %v", err)
	}
	x1, y1, err := ballPos(tab1)
	if err != nil {
		t.Fatal(err)
	}
	if x1 < 200 || y1 < 100 {
		t.Fatalf("ball in tab 1 at (%v, %v) after the drag, want near (250, 150)", x1, y1)
	}

	// Tab 2 follows.
	checkFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		x2, y2, err := ballPos(tab2)
		if err != nil {
			return err
		}
		if math.Abs(x2-x1) > 0.5 || math.Abs(y2-y1) > 0.5 {
			return fmt.Errorf("tab 2 ball at (%v, %v), tab 1 at (%v, %v)", x2, y2, x1, y1)
		}
		return nil
	})
	// And so does the RTMP client.
	checkFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		v, _ := rtmpBall.Get("ballCoordinates")
		if !amf.Equal(v, amf.Object{{Key: "x", Value: x1}, {Key: "y", Value: y1}}) {
			return fmt.Errorf("RTMP client sees %v, want {x:%v y:%v}", v, x1, y1)
		}
		return nil
	})

	// The RTMP client moves the ball; both tabs follow.
	if err := rtmpBall.Set("ballCoordinates", amf.Object{{Key: "x", Value: 42.0}, {Key: "y", Value: 24.0}}); err != nil {
		t.Fatal(err)
	}
	for i, tab := range []context.Context{tab1, tab2} {
		checkFor(t, 10*time.Second, 50*time.Millisecond, func() error {
			x, y, err := ballPos(tab)
			if err != nil {
				return err
			}
			if x != 42 || y != 24 {
				return fmt.Errorf("tab %d ball at (%v, %v), want (42, 24)", i+1, x, y)
			}
			return nil
		})
	}
}
