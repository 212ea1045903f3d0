package main

import (
	"context"
	"log/slog"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/app"

	"github.com/tandem-softphone/tandem/assets"
	"github.com/tandem-softphone/tandem/core"
	"github.com/tandem-softphone/tandem/gui"
	"github.com/tandem-softphone/tandem/internal/credstore"
	"github.com/tandem-softphone/tandem/internal/version"
)

// runWindow shows the desktop's window on the core until the agent closes
// it (the GUI then quits the core gracefully), the core stops, or ctx ends.
// It must run on the main goroutine: the window system wants it.
func runWindow(ctx context.Context, c *core.Core, log *slog.Logger) {
	// FyneApp.toml is read only beside the binary or in the working
	// directory: say the same in code so the app behaves alike from anywhere.
	app.SetMetadata(fyne.AppMetadata{ID: gui.AppID, Name: "Tandem", Version: version.Version, Icon: assets.Icon,
		Migrations: map[string]bool{"fyneDo": true}})
	a := app.NewWithID(gui.AppID)
	a.SetIcon(assets.Icon)
	// The password is remembered, when the agent asks, in the OS keyring only.
	ui := gui.New(a, c, gui.Options{Logger: log, Passwords: credstore.Keyring{Service: gui.AppID}})
	go func() {
		select {
		case <-ctx.Done():
			log.Info("signal: closing the window")
		case <-c.Done():
		}
		fyne.Do(a.Quit)
	}()
	ui.Run()
}
