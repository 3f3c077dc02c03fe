package main

import "runtime/debug"

// version and commit are set at build time (`make build` and the
// Dockerfile pass -ldflags "-X main.version=$(git describe --tags --always
// --dirty) -X main.commit=$(git rev-parse HEAD)"); without them the module
// version and VCS revision the Go toolchain records are used.
var version, commit string

// binaryVersion is the version shown by /admin/v1/status and `gatehouse
// version`: the stamped version and commit when set, else what the build
// information holds.
func binaryVersion() string {
	info, _ := debug.ReadBuildInfo()
	return describeVersion(version, commit, info)
}

// describeVersion is "VERSION (commit REV)" from the stamp, falling back
// per part to the build information (a module version, the vcs.revision
// setting), and "(devel)" only when nothing at all is known.
func describeVersion(stamped, stampedCommit string, info *debug.BuildInfo) string {
	v, rev, dirty := stamped, stampedCommit, false
	if info != nil {
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				if rev == "" {
					rev = s.Value
				}
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if v == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			v = info.Main.Version
		}
	}
	switch {
	case v == "" && rev == "":
		return "(devel)"
	case v == "":
		v = "devel-" + rev[:min(12, len(rev))]
		if dirty {
			v += "-dirty"
		}
		return v
	case rev == "":
		return v
	}
	return v + " (commit " + rev + ")"
}
