package console

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// screenshotDir is where the browser tests put their screenshots (not
// committed; see .gitignore).
var screenshotDir = filepath.Join("..", "..", "test", "screenshots")

// docsScreenshotEnv names the variable that makes TestConsoleBrowser write
// docs/console.png, the README's screenshot.
const docsScreenshotEnv = "SHOAL_CONSOLE_DOCS"

// newBrowser starts headless Chromium for the test, with a window of w×h,
// and returns the browser's context.
func newBrowser(t *testing.T, w, h int) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("SHOAL_ALLOW_MISSING_TOOLS") != "" {
			t.Skip("SKIPPED LOUDLY: chromium not installed (SHOAL_ALLOW_MISSING_TOOLS set); run scripts/test-deps.sh")
		}
		t.Fatal("chromium not installed: run scripts/test-deps.sh (make test does)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.Flag("headless", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(w, h),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx, chromedp.WithErrorf(quietErrorf))
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
	})
	if err := chromedp.Run(bctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return bctx
}

// quietErrorf prints chromedp's errors but those about DOM events it does
// not know, which the console's <dialog> causes (top-layer updates).
func quietErrorf(format string, args ...any) {
	if strings.HasPrefix(format, "unhandled node event") {
		return
	}
	fmt.Fprintf(os.Stderr, "chromedp: "+format+"\n", args...)
}

// page drives one browser tab.
type page struct {
	t   *testing.T
	tab context.Context
}

// newPage opens a tab. The tab is created on its own context first:
// cancelling the context of a tab's first Run closes the tab.
func newPage(t *testing.T, bctx context.Context) *page {
	t.Helper()
	tab, cancel := chromedp.NewContext(bctx)
	t.Cleanup(cancel)
	if err := chromedp.Run(tab); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	return &page{t: t, tab: tab}
}

// run runs actions with a timeout, failing the test on error.
func (p *page) run(what string, timeout time.Duration, actions ...chromedp.Action) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.tab, timeout)
	defer cancel()
	if err := chromedp.Run(ctx, actions...); err != nil {
		p.shot("failed-" + sanitize(p.t.Name()))
		p.t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression into out.
func (p *page) eval(expr string, out any) error {
	ctx, cancel := context.WithTimeout(p.tab, 10*time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate(expr, out))
}

// waitJS waits until the JavaScript expression is true.
func (p *page) waitJS(what, expr string, timeout time.Duration) {
	p.t.Helper()
	checkFor(p.t, timeout, 50*time.Millisecond, func() error {
		var ok bool
		if err := p.eval("!!("+expr+")", &ok); err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%s: %s is false", what, expr)
		}
		return nil
	})
}

// text returns the text of the first element matching a CSS selector,
// "" if none.
func (p *page) text(sel string) string {
	var s string
	if err := p.eval(fmt.Sprintf(`(document.querySelector(%q)||{}).textContent||""`, sel), &s); err != nil {
		p.t.Fatalf("read %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// toasts returns the messages the page has shown.
func (p *page) toasts() []string {
	var out []string
	if err := p.eval(`window.consoleToasts || []`, &out); err != nil {
		p.t.Fatalf("read toasts: %v", err)
	}
	return out
}

// shot saves a screenshot of the whole page to screenshotDir/name.png and
// returns its path.
func (p *page) shot(name string) string {
	p.t.Helper()
	var buf []byte
	ctx, cancel := context.WithTimeout(p.tab, 20*time.Second)
	defer cancel()
	if err := chromedp.Run(ctx, chromedp.FullScreenshot(&buf, 100)); err != nil {
		p.t.Errorf("screenshot %s: %v", name, err)
		return ""
	}
	if err := os.MkdirAll(screenshotDir, 0o755); err != nil {
		p.t.Fatal(err)
	}
	path := filepath.Join(screenshotDir, name+".png")
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		p.t.Fatal(err)
	}
	p.t.Logf("screenshot %s", path)
	return path
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == ' ' {
			return '_'
		}
		return r
	}, s)
}

// signIn opens the console at base and signs in with token.
func (p *page) signIn(base, token string) {
	p.t.Helper()
	p.run("open the sign-in page", 20*time.Second,
		chromedp.Navigate(base+Path),
		chromedp.WaitVisible("#token", chromedp.ByID),
		chromedp.SendKeys("#token", token, chromedp.ByID),
		chromedp.Click(`#signin-form button[type=submit]`, chromedp.ByQuery),
	)
}

// show switches to a view.
func (p *page) show(view string) {
	p.t.Helper()
	p.run("show "+view, 10*time.Second, chromedp.Evaluate(fmt.Sprintf("location.hash = %q", view), nil))
	p.waitJS("view "+view, fmt.Sprintf("!document.getElementById('view-%s').hidden", view), 5*time.Second)
}

// confirm presses OK in the console's dialog.
func (p *page) confirm() {
	p.t.Helper()
	p.run("confirm", 10*time.Second, chromedp.WaitVisible("#dialog-ok", chromedp.ByID), chromedp.Click("#dialog-ok", chromedp.ByID))
	p.waitJS("dialog closed", "!document.getElementById('dialog').open", 10*time.Second)
}
