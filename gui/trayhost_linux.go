package gui

import "github.com/godbus/dbus/v5"

// trayHost reports whether the desktop shows tray icons: on Linux, whether
// a StatusNotifierWatcher owns its name on the session bus. Without one (a
// bare X server, some desktops) a hidden window could not come back, so
// closing it quits instead.
func trayHost() bool {
	conn, err := dbus.ConnectSessionBus()
	if err != nil {
		return false
	}
	defer conn.Close()
	var has bool
	err = conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, "org.kde.StatusNotifierWatcher").Store(&has)
	return err == nil && has
}
