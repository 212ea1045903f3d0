package gui

import (
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/tandem-softphone/tandem/config"
	"github.com/tandem-softphone/tandem/internal/version"
)

// The application menu opens the About dialog, which shows the stamped
// version and commit and the provisioning files this machine reads.
func TestAboutDialog(t *testing.T) {
	v, c := version.Version, version.Commit
	t.Cleanup(func() { version.Version, version.Commit = v, c })
	version.Version, version.Commit = "9.8.7", "abc1234"

	u := newTestUI(t, newFake(sampleIdle()))
	var about *fyne.MenuItem
	for _, it := range u.win.MainMenu().Items[0].Items {
		if it.Label == "About Tandem" {
			about = it
		}
	}
	if about == nil || about.Action == nil {
		t.Fatal("no About item in the application menu")
	}
	if strings.Contains(canvasText(u.win.Canvas()), "abc1234") {
		t.Fatal("the About dialog shows before it is asked for")
	}
	about.Action()
	markup := canvasText(u.win.Canvas())
	sys, _ := config.DefaultPaths()
	for _, want := range []string{"About Tandem", "Tandem 9.8.7 (commit abc1234, ", sys} {
		if !strings.Contains(markup, want) {
			t.Errorf("the About dialog lacks %q", want)
		}
	}
	test.Tap(overlayButton(t, u.win.Canvas(), "Close"))
	if strings.Contains(canvasText(u.win.Canvas()), "abc1234") {
		t.Error("the About dialog stays after Close")
	}
}

// overlayButton finds a button by its text in the canvas's top overlay (a
// dialog).
func overlayButton(t *testing.T, c fyne.Canvas, text string) *widget.Button {
	t.Helper()
	var found *widget.Button
	var walk func(o fyne.CanvasObject)
	walk = func(o fyne.CanvasObject) {
		switch o := o.(type) {
		case *widget.Button:
			if o.Text == text {
				found = o
			}
		case *fyne.Container:
			for _, c := range o.Objects {
				walk(c)
			}
		case fyne.Widget:
			for _, c := range test.WidgetRenderer(o).Objects() {
				walk(c)
			}
		}
	}
	if top := c.Overlays().Top(); top != nil {
		walk(top)
	}
	if found == nil {
		t.Fatalf("no %q button in the top overlay", text)
	}
	return found
}
