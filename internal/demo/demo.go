// Package demo serves the demo pages of a media node, starting with
// BallControl, the shared-object demo of Red5 that the original clustering
// proof of concept used.
package demo

import (
	_ "embed"
	"net/http"
)

//go:embed static/ballcontrol.html
var ballControl []byte

// BallControl serves the BallControl page. It uses the JavaScript client at
// /so.js and the WebSocket endpoint /so/SOSample of the same node.
func BallControl() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(ballControl)
	})
}
