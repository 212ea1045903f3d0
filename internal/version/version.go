// Package version is the build's version and commit. Release builds stamp
// both with the linker (scripts/package.sh):
//
//	go build -ldflags "-X github.com/tandem-softphone/tandem/internal/version.Version=1.2.0 \
//	  -X github.com/tandem-softphone/tandem/internal/version.Commit=4f2a9c1" ./cmd/desktop
//
// A plain `go build` or `go run` leaves Version at "dev" and takes the commit
// from the VCS information that the go command records in the binary.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Version is the release version, without a leading "v" (set by -ldflags -X).
var Version = "dev"

// Commit is the short commit id the build was made from, "-dirty" appended
// when the work tree had changes (set by -ldflags -X).
var Commit = ""

// String is the one-line description `desktop --version` prints and the
// About dialog shows: "Tandem 1.2.0 (commit 4f2a9c1, go1.26.8 linux/amd64)".
func String() string {
	return fmt.Sprintf("Tandem %s (commit %s, %s %s/%s)", Version, CommitOrUnknown(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// CommitOrUnknown is Commit, or else the commit recorded by the go command,
// or "unknown".
func CommitOrUnknown() string {
	return commitOf(Commit, debug.ReadBuildInfo)
}

// commitOf takes the build information as a function so that tests can give
// their own.
func commitOf(stamped string, read func() (*debug.BuildInfo, bool)) string {
	if stamped != "" {
		return stamped
	}
	info, ok := read()
	if !ok {
		return "unknown"
	}
	var rev, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev == "" {
		return "unknown"
	}
	if len(rev) > 7 {
		rev = rev[:7] // git's short form, as `git describe` prints it
	}
	if modified == "true" {
		rev += "-dirty"
	}
	return rev
}
