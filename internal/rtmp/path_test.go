package rtmp

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var streamPathCases = []struct {
	name     string
	app      string // as sent in connect
	stream   string // as sent in publish or play
	want     streamPath
	wantOK   bool
	wantApp  string // normalised app (ScopePath)
	wantAppQ string
}{
	{name: "plain", app: "live", stream: "cam", want: streamPath{scope: "live", name: "cam"}, wantOK: true, wantApp: "live"},
	{name: "ffmpeg room in name", app: "live", stream: "room/cam", want: streamPath{scope: "live/room", name: "cam"}, wantOK: true, wantApp: "live"},
	{name: "flash room in app", app: "live/room", stream: "cam", want: streamPath{scope: "live/room", name: "cam"}, wantOK: true, wantApp: "live/room"},
	{name: "stray slashes", app: "/live/", stream: "/room//cam/", want: streamPath{scope: "live/room", name: "cam"}, wantOK: true, wantApp: "live"},
	{name: "query", app: "live", stream: "cam?token=abc&x=1", want: streamPath{scope: "live", name: "cam", query: "token=abc&x=1"}, wantOK: true, wantApp: "live"},
	{name: "app query", app: "live?token=abc", stream: "cam", want: streamPath{scope: "live", name: "cam"}, wantOK: true, wantApp: "live", wantAppQ: "token=abc"},
	{name: "mp4 prefix", app: "vod", stream: "mp4:room/cam.mp4", want: streamPath{scope: "vod/room", name: "cam.mp4"}, wantOK: true, wantApp: "vod"},
	{name: "flv prefix on last segment", app: "live", stream: "room/flv:cam", want: streamPath{scope: "live/room", name: "cam"}, wantOK: true, wantApp: "live"},
	{name: "upper-case prefix", app: "live", stream: "MP4:cam", want: streamPath{scope: "live", name: "cam"}, wantOK: true, wantApp: "live"},
	{name: "no app", app: "", stream: "cam", want: streamPath{name: "cam"}, wantOK: false},
	{name: "no name", app: "live", stream: "", wantOK: false, wantApp: "live"},
	{name: "no name in a room", app: "live/room", stream: " ", wantOK: false, wantApp: "live/room"},
	{name: "no app, room in name", app: "", stream: "0/0", want: streamPath{scope: "0", name: "0"}, wantOK: true},
	{name: "only query", app: "live", stream: "?token=x", wantOK: false, wantApp: "live"},
}

func TestParseStreamPath(t *testing.T) {
	for _, tc := range streamPathCases {
		t.Run(tc.name, func(t *testing.T) {
			app, q := appPath(tc.app)
			if app != tc.wantApp || q != tc.wantAppQ {
				t.Errorf("appPath(%q) = %q, %q; want %q, %q", tc.app, app, q, tc.wantApp, tc.wantAppQ)
			}
			got, ok := parseStreamPath(app, tc.stream)
			if ok != tc.wantOK {
				t.Errorf("parseStreamPath(%q, %q) ok = %v, want %v", app, tc.stream, ok, tc.wantOK)
			}
			if ok {
				if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(streamPath{})); diff != "" {
					t.Errorf("parseStreamPath(%q, %q) (-want +got):\n%s", app, tc.stream, diff)
				}
			}
		})
	}
}

func FuzzParseStreamPath(f *testing.F) {
	for _, tc := range streamPathCases {
		f.Add(tc.app, tc.stream)
	}
	f.Fuzz(func(t *testing.T, rawApp, stream string) {
		app, _ := appPath(rawApp)
		if strings.Contains(app, "//") || strings.HasPrefix(app, "/") || strings.HasSuffix(app, "/") {
			t.Fatalf("appPath(%q) = %q, not normalised", rawApp, app)
		}
		sp, ok := parseStreamPath(app, stream)
		if !ok {
			return
		}
		if sp.name == "" || strings.ContainsAny(sp.name, "/?") {
			t.Fatalf("parseStreamPath(%q, %q) name = %q", app, stream, sp.name)
		}
		if sp.scope == "" || strings.Contains(sp.scope, "//") || strings.HasPrefix(sp.scope, "/") || strings.HasSuffix(sp.scope, "/") {
			t.Fatalf("parseStreamPath(%q, %q) scope = %q", app, stream, sp.scope)
		}
		if app != "" && !strings.HasPrefix(sp.scope+"/", app+"/") {
			t.Fatalf("parseStreamPath(%q, %q) scope %q outside the app", app, stream, sp.scope)
		}
	})
}
