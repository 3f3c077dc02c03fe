package main

import "runtime/debug"

// version is set at build time with -ldflags "-X main.version=v1.2.3";
// without it the module version and VCS revision the Go toolchain records
// are used.
var version string

// binaryVersion is the version shown by /admin/v1/status and `gatehouse
// version`.
func binaryVersion() string {
	if version != "" {
		return version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := info.Main.Version
	var rev, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if (v == "" || v == "(devel)") && rev != "" {
		v = "devel-" + rev[:min(12, len(rev))]
		if modified == "true" {
			v += "-dirty"
		}
	}
	if v == "" {
		v = "(devel)"
	}
	return v
}
