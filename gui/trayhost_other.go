//go:build !linux

package gui

// trayHost reports whether the desktop shows tray icons: Windows and macOS
// always do.
func trayHost() bool { return true }
