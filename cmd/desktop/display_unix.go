//go:build linux || freebsd || openbsd || netbsd

package main

import (
	"errors"
	"os"
)

// needDisplay says why the window cannot open: the window system's driver
// panics without a display, and an agent should read a reason instead.
func needDisplay() error {
	if os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
		return errors.New("no display (neither DISPLAY nor WAYLAND_DISPLAY is set): start it in a desktop session, or with --headless")
	}
	return nil
}
