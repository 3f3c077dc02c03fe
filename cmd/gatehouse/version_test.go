package main

import (
	"runtime/debug"
	"testing"
)

// TestDescribeVersion: the stamp wins, each part falls back to the build
// information, and "(devel)" is left only when nothing is known.
func TestDescribeVersion(t *testing.T) {
	vcs := &debug.BuildInfo{Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef0123"},
		{Key: "vcs.modified", Value: "true"},
	}}
	for _, tc := range []struct {
		name, version, commit string
		info                  *debug.BuildInfo
		want                  string
	}{
		{"stamped", "v1.2.3-4-gabcdef0", "abcdef0123", vcs, "v1.2.3-4-gabcdef0 (commit abcdef0123)"},
		{"stamped version, commit from vcs", "v1.2.3", "", vcs, "v1.2.3 (commit 0123456789abcdef0123)"},
		{"vcs only", "", "", vcs, "devel-0123456789ab-dirty"},
		{"module version", "", "", &debug.BuildInfo{Main: debug.Module{Version: "v0.9.0"}}, "v0.9.0"},
		{"nothing known", "", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "(devel)"},
		{"no build info", "", "", nil, "(devel)"},
	} {
		if got := describeVersion(tc.version, tc.commit, tc.info); got != tc.want {
			t.Errorf("%s: describeVersion = %q, want %q", tc.name, got, tc.want)
		}
	}
}
