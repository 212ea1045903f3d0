package gui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	"github.com/tandem-softphone/tandem/config"
	"github.com/tandem-softphone/tandem/internal/version"
)

// aboutContent names the build, for an agent reading it out to support,
// and the provisioning files this machine reads, for the admin.
func aboutContent() fyne.CanvasObject {
	title := widget.NewLabelWithStyle("Tandem", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	build := widget.NewLabel(version.String())
	build.Selectable = true
	sys, user := config.DefaultPaths()
	files := "Configuration: " + sys
	if user != "" {
		files += "\nthen " + user
	}
	paths := caption(files)
	paths.Selectable = true
	return container.NewVBox(
		container.NewHBox(appIcon(48), container.NewVBox(title, caption("Agent softphone for SIP Business Continuity"))),
		build,
		paths,
	)
}

func (u *UI) showAbout() {
	dialog.NewCustom("About Tandem", "Close", aboutContent(), u.win).Show()
}
