package metrics

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestHandlerWritesFamiliesOnce(t *testing.T) {
	h := Handler(func(w *Writer) {
		w.Gauge("shoal_subscribers", "Subscribers.", 2, Labels{"stream": `live/a"b`})
		w.Gauge("shoal_subscribers", "Subscribers.", 3, Labels{"stream": "live/c", "app": "live"})
		w.Counter("shoal_bytes_in_total", "Bytes received.", 1.5e9, nil)
	})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	want := `# HELP shoal_subscribers Subscribers.
# TYPE shoal_subscribers gauge
shoal_subscribers{stream="live/a\"b"} 2
shoal_subscribers{app="live",stream="live/c"} 3
# HELP shoal_bytes_in_total Bytes received.
# TYPE shoal_bytes_in_total counter
shoal_bytes_in_total 1.5e+09
`
	if diff := cmp.Diff(want, rec.Body.String()); diff != "" {
		t.Errorf("metrics output (-want +got):\n%s", diff)
	}
}
