package wsface

import (
	_ "embed"
	"net/http"
)

//go:embed static/so.js
var clientJS []byte

// ClientJS serves the JavaScript client.
func ClientJS() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = w.Write(clientJS)
	})
}
