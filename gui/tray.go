package gui

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"strings"
	"sync"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"

	"github.com/tandem-softphone/tandem/assets"
	"github.com/tandem-softphone/tandem/continuity"
	"github.com/tandem-softphone/tandem/core"
	"github.com/tandem-softphone/tandem/wire"
)

// The system tray: an icon that shows the agent's state, and a menu with
// the state, the quick actions the state allows and Quit. While the agent
// is logged in, closing the window leaves Tandem running there.

// trayActions are what the tray's items do.
type trayActions struct {
	show     func()
	ready    func()
	notReady func(reason string)
	answer   func()
	hangup   func()
	quit     func()
}

// trayMenu is the tray's menu for a State: the agent's state and site (not
// an action), the window, the agent-state actions while logged in, the
// call actions when there is a call to act on, and Quit.
func trayMenu(st core.State, reasons []string, act trayActions) *fyne.Menu {
	status := fyne.NewMenuItem(trayStatus(st), nil)
	status.Disabled = true
	items := []*fyne.MenuItem{status, fyne.NewMenuItemSeparator(), fyne.NewMenuItem("Show Tandem", act.show)}
	if st.Phase == continuity.LoggedIn {
		ready := fyne.NewMenuItem("Ready", act.ready)
		ready.Checked = st.Agent.State == wire.StateReady
		subs := make([]*fyne.MenuItem, 0, len(reasons))
		for _, r := range reasons {
			reason := r
			it := fyne.NewMenuItem(reason, func() { act.notReady(reason) })
			it.Checked = st.Agent.State == wire.StateNotReady && st.Agent.Reason == reason
			subs = append(subs, it)
		}
		notReady := fyne.NewMenuItem("Not Ready", nil)
		notReady.ChildMenu = fyne.NewMenu("", subs...)
		items = append(items, fyne.NewMenuItemSeparator(), ready, notReady)
	}
	var calls []*fyne.MenuItem
	if ci, ok := core.RingingCall(st.Calls); ok {
		calls = append(calls, fyne.NewMenuItem("Answer "+peerText(ci), act.answer))
	}
	if ci, ok := core.ActiveCall(st.Calls); ok {
		calls = append(calls, fyne.NewMenuItem("Hang up "+peerText(ci), act.hangup))
	}
	if len(calls) > 0 {
		items = append(items, fyne.NewMenuItemSeparator())
		items = append(items, calls...)
	}
	quit := fyne.NewMenuItem("Quit Tandem", act.quit)
	quit.IsQuit = true
	items = append(items, fyne.NewMenuItemSeparator(), quit)
	return fyne.NewMenu("Tandem", items...)
}

// trayStatus is the tray menu's first line: the agent's state and where.
func trayStatus(st core.State) string {
	switch st.Phase {
	case continuity.LoggedIn:
		s := agentStateText(st.Agent)
		if st.Site != 0 {
			s += " at " + siteName(st, st.Site)
		}
		if n := len(st.Calls); n > 0 {
			s += fmt.Sprintf(" · %d call", n)
			if n > 1 {
				s += "s"
			}
		}
		return s
	case continuity.SwitchingOver, continuity.Relaunching, continuity.Connecting, continuity.LoggingIn, continuity.Waiting:
		// What the core is doing, as the agent card says it.
		s, _ := agentHeadline(st)
		return s
	}
	return "Not logged in"
}

// trayLamp is the tray icon's dot: the agent's state, red when a site is
// being left or none is reached.
func trayLamp(st core.State) lampStatus {
	switch st.Phase {
	case continuity.LoggedIn:
		return agentLamp(st.Agent)
	case continuity.SwitchingOver, continuity.Waiting:
		return lampFault
	case continuity.Connecting, continuity.LoggingIn, continuity.Relaunching:
		return lampPending
	}
	return lampUnknown
}

// trayIcons are the tray icons by lamp, drawn once.
var trayIcons sync.Map // lampStatus → fyne.Resource

// trayIcon is the application icon at tray size with a dot of the lamp's
// colour in its corner (none for lampUnknown). The colours are fixed, not
// the theme's: the tray's background is the desktop's.
func trayIcon(l lampStatus) fyne.Resource {
	if r, ok := trayIcons.Load(l); ok {
		return r.(fyne.Resource)
	}
	const size = 64
	img := shrink(iconImage(), size)
	dot := map[lampStatus]color.NRGBA{
		lampOK:      {0x1e, 0x8e, 0x3e, 0xff},
		lampPending: {0xe3, 0x74, 0x00, 0xff},
		lampFault:   {0xd9, 0x30, 0x25, 0xff},
	}
	if c, ok := dot[l]; ok {
		// A white ring around the dot keeps it apart from the icon.
		drawDisc(img, size-13, size-13, 12, color.NRGBA{0xff, 0xff, 0xff, 0xff})
		drawDisc(img, size-13, size-13, 9, c)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return assets.Icon
	}
	r := fyne.NewStaticResource(fmt.Sprintf("tandem-tray-%s.png", strings.ToLower(l.String())), buf.Bytes())
	trayIcons.Store(l, r)
	return r
}

// shrink scales a square image down to size×size by averaging boxes.
func shrink(src image.Image, size int) *image.NRGBA {
	b := src.Bounds()
	dst := image.NewNRGBA(image.Rect(0, 0, size, size))
	for y := range size {
		for x := range size {
			x0, x1 := b.Min.X+x*b.Dx()/size, b.Min.X+(x+1)*b.Dx()/size
			y0, y1 := b.Min.Y+y*b.Dy()/size, b.Min.Y+(y+1)*b.Dy()/size
			var r, g, bl, a, n uint64
			for sy := y0; sy < max(y1, y0+1); sy++ {
				for sx := x0; sx < max(x1, x0+1); sx++ {
					c := color.NRGBAModel.Convert(src.At(sx, sy)).(color.NRGBA)
					r, g, bl, a = r+uint64(c.R), g+uint64(c.G), bl+uint64(c.B), a+uint64(c.A)
					n++
				}
			}
			dst.SetNRGBA(x, y, color.NRGBA{uint8(r / n), uint8(g / n), uint8(bl / n), uint8(a / n)})
		}
	}
	return dst
}

// drawDisc fills a disc of radius r centred on (cx, cy).
func drawDisc(img *image.NRGBA, cx, cy, r int, c color.NRGBA) {
	for y := cy - r; y <= cy+r; y++ {
		for x := cx - r; x <= cx+r; x++ {
			if dx, dy := x-cx, y-cy; dx*dx+dy*dy <= r*r && image.Pt(x, y).In(img.Bounds()) {
				img.SetNRGBA(x, y, c)
			}
		}
	}
}

// tray is the system tray of a desktop app; nil where there is none.
type tray struct {
	app  desktop.App
	sig  string // what the menu was last built from
	lamp lampStatus
	set  bool
}

// renderTray updates the tray's icon and menu when what they show changed.
func (u *UI) renderTray(st core.State) {
	if u.tray == nil {
		return
	}
	menu := trayMenu(st, u.opts.NotReadyReasons, u.trayActions())
	var sig strings.Builder
	for _, it := range menu.Items {
		fmt.Fprintf(&sig, "%s|%v|%v;", it.Label, it.Checked, it.ChildMenu != nil)
		if it.ChildMenu != nil {
			for _, c := range it.ChildMenu.Items {
				fmt.Fprintf(&sig, "%s|%v;", c.Label, c.Checked)
			}
		}
	}
	if sig.String() != u.tray.sig {
		u.tray.sig = sig.String()
		u.tray.app.SetSystemTrayMenu(menu)
	}
	if l := trayLamp(st); !u.tray.set || l != u.tray.lamp {
		u.tray.lamp, u.tray.set = l, true
		u.tray.app.SetSystemTrayIcon(trayIcon(l))
	}
}

func (u *UI) trayActions() trayActions {
	return trayActions{
		show: u.showWindow,
		ready: func() {
			u.intent("ready", u.b.Ready, u.trayDone("Ready"))
		},
		notReady: func(reason string) {
			u.intent("not ready", func(ctx context.Context) error { return u.b.NotReady(ctx, reason) }, u.trayDone("Not Ready"))
		},
		answer: func() { u.callKey(keyAnswer) },
		hangup: func() { u.callKey(keyHangup) },
		quit:   u.quit,
	}
}

// trayDone shows a tray action's failure in the window, brought forward.
func (u *UI) trayDone(what string) func(error) {
	return func(err error) {
		if err != nil {
			u.showWindow()
			u.main.agent.failure.done(what)(err)
		}
	}
}

// showWindow brings the window back from the tray.
func (u *UI) showWindow() {
	u.win.Show()
	u.win.RequestFocus()
}

// closeWindow is the window's close button: while the agent is logged in
// and a tray holds Tandem, the window only hides (calls still ring: the
// incoming-call notification and the tray bring it back); otherwise
// Tandem quits gracefully.
func (u *UI) closeWindow() {
	if u.tray != nil && u.session {
		u.win.Hide()
		u.app.SendNotification(fyne.NewNotification("Tandem is still running",
			"You stay logged in. Open Tandem from the tray icon, or quit it there."))
		return
	}
	u.quit()
}
