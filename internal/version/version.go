// Package version reports the build's version.
package version

import "runtime/debug"

// Version is set at link time with -ldflags "-X .../version.Version=v1.2.3".
var Version = ""

// String returns the version, falling back to the VCS revision recorded by
// the Go toolchain, or "dev".
func String() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return "dev-" + s.Value[:12]
			}
		}
	}
	return "dev"
}
