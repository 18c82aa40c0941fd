// Package bench holds Shoal's load generators: many RTMP players that
// measure what they receive (Play), a publisher that replays an FLV file in
// real time (Publish), and the test clip they use (MakeClip). The fan-out
// benchmark (bench/fanout.sh) runs them against shoal-node and nginx-rtmp.
package bench

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// splitStreamURL splits rtmp://host[:port]/app/stream[?query] into the URL
// to dial (rtmp://host[:port]/app) and the stream name to publish or play
// ("stream?query"), as ffmpeg does: the app is the first path segment and
// the stream name the rest.
func splitStreamURL(raw string) (dialURL, name string, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", fmt.Errorf("parse stream url: %w", err)
	}
	if u.Scheme != "rtmp" {
		return "", "", fmt.Errorf("stream url %q: scheme %q, want rtmp", raw, u.Scheme)
	}
	app, name, ok := strings.Cut(strings.Trim(u.Path, "/"), "/")
	if !ok || app == "" || strings.Trim(name, "/") == "" {
		return "", "", fmt.Errorf("stream url %q: want rtmp://host[:port]/app/stream", raw)
	}
	if u.RawQuery != "" {
		name += "?" + u.RawQuery
	}
	return (&url.URL{Scheme: "rtmp", Host: u.Host, Path: "/" + app}).String(), name, nil
}

// ParseBitrate parses a bit rate such as "2500k", "2.5M" or "800000" into
// bits per second.
func ParseBitrate(s string) (int, error) {
	mult := 1.0
	num := s
	switch {
	case strings.HasSuffix(s, "k"), strings.HasSuffix(s, "K"):
		mult, num = 1e3, s[:len(s)-1]
	case strings.HasSuffix(s, "m"), strings.HasSuffix(s, "M"):
		mult, num = 1e6, s[:len(s)-1]
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v <= 0 || v*mult > 1e10 {
		return 0, fmt.Errorf("bit rate %q: want a positive number with an optional k or M suffix", s)
	}
	return int(v * mult), nil
}
