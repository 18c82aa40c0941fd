package rtmp

import "strings"

// streamPath is a normalised stream address: the scope (rooms, app first)
// and the stream name, as ffmpeg and Flash spell it differently.
type streamPath struct {
	scope string // "app/room", never empty for a valid path
	name  string // last segment, without query or mp4:/flv: prefix
	query string // what followed the first '?', without the '?'
}

// splitQuery splits s at its first '?'.
func splitQuery(s string) (path, query string) {
	if i := strings.IndexByte(s, '?'); i >= 0 {
		return s[:i], s[i+1:]
	}
	return s, ""
}

// normalisePath trims slashes, drops empty segments and returns the
// segments joined with single slashes.
func normalisePath(p string) string {
	if !strings.Contains(p, "//") && !strings.HasPrefix(p, "/") && !strings.HasSuffix(p, "/") {
		return p
	}
	segs := strings.Split(p, "/")
	out := segs[:0]
	for _, s := range segs {
		if s != "" {
			out = append(out, s)
		}
	}
	return strings.Join(out, "/")
}

// stripFormatPrefix removes the "mp4:", "flv:" (and similar FMS) prefixes
// that ffmpeg and FMS put in front of a play path.
func stripFormatPrefix(s string) string {
	for _, p := range [...]string{"mp4:", "flv:", "f4v:", "mp3:"} {
		if len(s) >= len(p) && strings.EqualFold(s[:len(p)], p) {
			return s[len(p):]
		}
	}
	return s
}

// appPath returns the normalised app of a connect command ("live/room")
// and the query string it carried, if any.
func appPath(app string) (path, query string) {
	path, query = splitQuery(app)
	return normalisePath(path), query
}

// firstSegment returns p up to its first slash.
func firstSegment(p string) string {
	if i := strings.IndexByte(p, '/'); i >= 0 {
		return p[:i]
	}
	return p
}

// parseStreamPath joins the connection's app path and the stream name of a
// publish or play command and splits the result into scope and name.
// ffmpeg sends app "live" and name "room/stream"; Flash may send app
// "live/room" and name "stream"; both give scope "live/room", name "stream".
// ok is false when no stream name is left.
func parseStreamPath(app, streamName string) (sp streamPath, ok bool) {
	name, query := splitQuery(stripFormatPrefix(strings.TrimSpace(streamName)))
	name = normalisePath(name)
	sp = streamPath{query: query}
	if name == "" {
		return sp, false
	}
	full := normalisePath(app + "/" + name)
	i := strings.LastIndexByte(full, '/')
	if i < 0 {
		sp.name = full
	} else {
		sp.scope, sp.name = full[:i], full[i+1:]
	}
	sp.name = stripFormatPrefix(sp.name)
	return sp, sp.name != "" && sp.scope != ""
}
