package version

import (
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestStringStamped(t *testing.T) {
	v, c := Version, Commit
	t.Cleanup(func() { Version, Commit = v, c })
	Version, Commit = "1.2.0", "4f2a9c1"
	want := "Tandem 1.2.0 (commit 4f2a9c1, " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + ")"
	if got := String(); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestCommitFromBuildInfo(t *testing.T) {
	info := func(settings ...debug.BuildSetting) func() (*debug.BuildInfo, bool) {
		return func() (*debug.BuildInfo, bool) { return &debug.BuildInfo{Settings: settings}, true }
	}
	rev := debug.BuildSetting{Key: "vcs.revision", Value: "4f2a9c1e0b5d7a8c9d0e1f2a3b4c5d6e7f8a9b0c"}
	tests := []struct {
		name, stamped string
		read          func() (*debug.BuildInfo, bool)
		want          string
	}{
		{"stamped wins", "abc1234-dirty", info(rev), "abc1234-dirty"},
		{"clean tree", "", info(rev, debug.BuildSetting{Key: "vcs.modified", Value: "false"}), "4f2a9c1"},
		{"dirty tree", "", info(rev, debug.BuildSetting{Key: "vcs.modified", Value: "true"}), "4f2a9c1-dirty"},
		{"no VCS information", "", info(), "unknown"},
		{"no build information", "", func() (*debug.BuildInfo, bool) { return nil, false }, "unknown"},
	}
	for _, tc := range tests {
		if got := commitOf(tc.stamped, tc.read); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestUnstampedDefaults(t *testing.T) {
	// `go test` stamps nothing: the version says it is not a release.
	if Version != "dev" {
		t.Errorf("Version = %q without -ldflags", Version)
	}
	if s := String(); !strings.HasPrefix(s, "Tandem dev (commit ") {
		t.Errorf("String() = %q", s)
	}
}
