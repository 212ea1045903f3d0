//go:build !(linux || freebsd || openbsd || netbsd)

package main

// needDisplay: Windows and macOS always have one in a user's session.
func needDisplay() error { return nil }
