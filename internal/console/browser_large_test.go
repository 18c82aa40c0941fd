package console

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/shoal-live/shoal/internal/agentapi"
)

// TestConsoleBrowserLargeFleet registers 100 nodes through the agent
// endpoints (50 origins publishing 20 streams each, 50 edges carrying
// them: 1,000 streams, 2,000 stream reports), keeps reports coming as a
// live fleet does, and checks that the fleet and streams views show all
// of it. It prints how long the page takes to apply an update; it does
// not assert times (the machine is shared), only correctness.
func TestConsoleBrowserLargeFleet(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIPPED LOUDLY: the 100-node browser test does not run with -short")
	}
	e := newEnv(t, "")
	start := time.Now()
	nodes := e.synthFleet(t, 50, 20)
	t.Logf("registered %d nodes and reported 2000 streams in %v", len(nodes), time.Since(start).Round(time.Millisecond))

	// The sampler's cost on the server.
	const rounds = 5
	var readTime time.Duration
	var size int
	for range rounds {
		t0 := time.Now()
		s, err := e.con.read(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		size = len(mustJSON(s.fleet)) + len(mustJSON(s.config)) + len(mustJSON(s.scaling))
		readTime += time.Since(t0)
	}
	t.Logf("server: one sample (store reads + JSON) takes %v; the full state is %d KB", (readTime / rounds).Round(time.Microsecond), size/1024)

	// What one viewer receives: the whole state first, gzipped.
	r := openEventsEncoded(t, e, "gzip")
	if _, err := r.next(); err != nil {
		t.Fatal(err)
	}
	t.Logf("server: the first event is %d KB gzipped (%d KB of JSON)", r.wire.n/1024, size/1024)
	r.res.Body.Close()

	// Reports keep coming: every 100 ms one node reports new counts (100
	// nodes reporting every 10 s), so the fleet changes on every sample.
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
			n := nodes[50+i%50] // an edge
			r := agentapi.Report{NodeID: n.ID}
			for j := range 20 {
				subs := (i + j) % 7
				r.Streams = append(r.Streams, agentapi.Stream{Scope: "live", Name: fmt.Sprintf("s%03d-%02d", i%50, j), Subscribers: subs})
				r.Subscribers += subs
			}
			r.Connections = r.Subscribers
			e.report(t, r)
		}
	})
	defer func() {
		cancel()
		wg.Wait()
	}()

	p := newPage(t, newBrowser(t, 1280, 800))
	t0 := time.Now()
	p.signIn(e.srv.URL, testToken)
	p.waitJS("100 nodes in service", `document.querySelectorAll('#fleet-groups tr[data-node][data-state=INSERVICE]').length === 100`, 60*time.Second)
	t.Logf("browser: signed in and showed 100 nodes in %v", time.Since(t0).Round(time.Millisecond))
	measure := func(view string) {
		t.Helper()
		if err := p.eval(`Object.assign(window.consoleStats, {updates: 0, maxMs: 0, totalMs: 0, renders: 0})`, nil); err != nil {
			t.Fatal(err)
		}
		p.waitJS("10 updates on "+view, `window.consoleStats.renders >= 10`, 60*time.Second)
		var st struct {
			Updates   int     `json:"updates"`
			Renders   int     `json:"renders"`
			MaxMS     float64 `json:"maxMs"`
			TotalMS   float64 `json:"totalMs"`
			LastBytes int     `json:"lastBytes"`
		}
		if err := p.eval(`window.consoleStats`, &st); err != nil {
			t.Fatal(err)
		}
		t.Logf("browser, %s view: %d updates (%d re-rendered), %.1f ms on average, %.1f ms at most, last update %d KB",
			view, st.Updates, st.Renders, st.TotalMS/float64(st.Updates), st.MaxMS, st.LastBytes/1024)
	}
	measure("fleet")
	p.shot("console-large-fleet")

	p.show("streams")
	p.waitJS("1000 streams", `document.querySelectorAll('#streams-table tr[data-stream]').length === 1000`, 30*time.Second)
	var bad int
	if err := p.eval(`[...document.querySelectorAll('#streams-table tr[data-stream]')].filter(r => r.querySelectorAll('[data-edge]').length !== 1 || !/^node-/.test(r.cells[1].textContent.trim())).length`, &bad); err != nil {
		t.Fatal(err)
	}
	if bad != 0 {
		t.Errorf("%d of 1000 streams do not show one origin and one edge", bad)
	}
	measure("streams")
	p.shot("console-large-streams")

	// The filter narrows the table at once.
	p.run("filter", 10*time.Second)
	if err := p.eval(`(() => { const f = document.getElementById('stream-filter'); f.value = 's007-1'; f.dispatchEvent(new Event('input')); })()`, nil); err != nil {
		t.Fatal(err)
	}
	p.waitJS("10 filtered streams", `document.querySelectorAll('#streams-table tr[data-stream]').length === 10`, 10*time.Second)
}
