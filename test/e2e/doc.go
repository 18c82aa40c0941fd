// Package e2e runs Shoal's binaries as real processes on one machine and
// checks the cluster from the outside, as users see it: shoal-node
// processes sharing NATS (embedded in one node, or a cluster of `shoal
// nats` servers), RTMP clients (AMF0 and AMF3), WebSocket clients and
// headless Chromium on the BallControl demo page.
//
// The tests build ./cmd/shoal-node and ./cmd/shoal once per test binary
// with `go build`, start every process on free loopback ports, and kill
// every process they started when they end. They need Debian's chromium
// (scripts/test-deps.sh installs it) and fail loudly without it.
package e2e
