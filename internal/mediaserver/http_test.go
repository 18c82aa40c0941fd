package mediaserver

import (
	"net/http"
	"testing"

	"github.com/shoal-live/shoal/internal/config"
)

func TestPprofOnlyWhenEnabled(t *testing.T) {
	for _, on := range []bool{false, true} {
		n := startNode(t, func(c *config.Node) { c.HTTP.Pprof = on })
		resp, err := http.Get(n.httpURL("/debug/pprof/cmdline"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.StatusCode == http.StatusOK; got != on {
			t.Errorf("http.pprof %v: /debug/pprof/cmdline answered %d", on, resp.StatusCode)
		}
	}
}
