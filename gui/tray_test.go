package gui

import (
	"bytes"
	"image"
	"image/png"
	"strings"
	"testing"

	"fyne.io/fyne/v2"

	"github.com/tandem-softphone/tandem/continuity"
	"github.com/tandem-softphone/tandem/core"
	"github.com/tandem-softphone/tandem/sipua"
	"github.com/tandem-softphone/tandem/wire"
)

// fakeTray records what the GUI puts in the system tray.
type fakeTray struct {
	menus []*fyne.Menu
	icons []fyne.Resource
}

func (f *fakeTray) SetSystemTrayMenu(m *fyne.Menu)    { f.menus = append(f.menus, m) }
func (f *fakeTray) SetSystemTrayIcon(r fyne.Resource) { f.icons = append(f.icons, r) }
func (f *fakeTray) SetSystemTrayWindow(fyne.Window)   {}
func (f *fakeTray) last() *fyne.Menu                  { return f.menus[len(f.menus)-1] }
func withTray(u *UI) *fakeTray                        { ft := &fakeTray{}; u.tray = &tray{app: ft}; u.render(u.st); return ft }
func labels(m *fyne.Menu) (out []string) {
	for _, it := range m.Items {
		switch {
		case it.IsSeparator:
			out = append(out, "—")
		case it.Disabled:
			out = append(out, "("+it.Label+")")
		case it.Checked:
			out = append(out, "✓"+it.Label)
		default:
			out = append(out, it.Label)
		}
	}
	return out
}

func TestTrayMenuFromState(t *testing.T) {
	reasons := []string{"Break", "Lunch"}
	idle := sampleIdle()
	ready := sampleReady()
	notReady := sampleReady()
	notReady.Agent.State, notReady.Agent.Reason = wire.StateNotReady, "Lunch"
	ringing := sampleConnected()
	ringing.Calls = append(ringing.Calls, sipua.CallInfo{ID: "r1", Direction: sipua.Incoming, State: sipua.CallRinging, PeerURI: "sip:5551234@paris.example"})
	switching := sampleReady()
	switching.Phase, switching.Site = continuity.SwitchingOver, 2
	relaunching := sampleReady()
	relaunching.Phase = continuity.Relaunching
	for _, tc := range []struct {
		name string
		st   core.State
		want string
	}{
		{"logged out", idle, "(Not logged in) — Show Tandem — Quit Tandem"},
		{"ready", ready, "(Ready at Site\u00a01\u00a0·\u00a0Paris) — Show Tandem — ✓Ready Not Ready — Quit Tandem"},
		{"a call and one ringing", ringing, "(Ready at Site\u00a01\u00a0·\u00a0Paris · 2 calls) — Show Tandem — ✓Ready Not Ready — Answer 5551234@paris.example Hang up Claire Martin — Quit Tandem"},
		{"switching", switching, "(Moving to Site\u00a02\u00a0·\u00a0Lyon…) — Show Tandem — Quit Tandem"},
		{"re-launching", relaunching, "(Re-launching the phone…) — Show Tandem — Quit Tandem"},
	} {
		m := trayMenu(tc.st, reasons, trayActions{})
		if got := strings.Join(labels(m), " "); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
	m := trayMenu(notReady, reasons, trayActions{})
	if got := strings.Join(labels(m.Items[5].ChildMenu), " "); got != "Break ✓Lunch" {
		t.Errorf("Not Ready reasons: %s", got)
	}
	if !m.Items[len(m.Items)-1].IsQuit {
		t.Error("Quit is not the quit item")
	}
}

// The tray follows the State (menu and icon, each set again only when it
// changes) and its items send the intents.
func TestTrayActions(t *testing.T) {
	f := newFake(sampleReady())
	u := newTestUI(t, f)
	ft := withTray(u)
	if len(ft.menus) != 1 || len(ft.icons) != 1 {
		t.Fatalf("%d menus %d icons after the first render", len(ft.menus), len(ft.icons))
	}
	f.set(sampleReady()) // nothing the tray shows changed
	if len(ft.menus) != 1 || len(ft.icons) != 1 {
		t.Fatalf("tray set again for the same state: %d menus %d icons", len(ft.menus), len(ft.icons))
	}
	m := ft.last()
	m.Items[5].ChildMenu.Items[0].Action() // Not Ready: Break
	m.Items[4].Action()                    // Ready
	st := sampleRinging()
	f.set(st)
	if len(ft.menus) != 2 {
		t.Fatal("menu not rebuilt for a ringing call")
	}
	for _, it := range ft.last().Items {
		if strings.HasPrefix(it.Label, "Answer") {
			it.Action()
		}
	}
	wantCalls(t, f, "NotReady(Break)", "Ready", "Answer(r1)")
	nr := sampleReady()
	nr.Agent.State = wire.StateNotReady
	f.set(nr)
	if len(ft.icons) != 2 || ft.icons[0] == ft.icons[1] {
		t.Fatalf("icon not changed for Not Ready: %d icons", len(ft.icons))
	}
}

// Closing the window of a logged-in agent with a tray keeps Tandem running;
// without a session, or without a tray, it quits.
func TestCloseKeepsAppInTray(t *testing.T) {
	f := newFake(sampleReady())
	u := newTestUI(t, f)
	u.session = true
	withTray(u)
	u.closeWindow()
	if u.quitting || len(f.Calls()) != 0 {
		t.Fatalf("closing the window quit a logged-in agent (intents %q)", f.Calls())
	}
	u.session = false
	u.closeWindow()
	if !u.quitting {
		t.Fatal("closing the window of a logged-out agent did not quit")
	}

	f2 := newFake(sampleReady())
	u2 := newTestUI(t, f2)
	u2.session = true // no tray
	u2.closeWindow()
	if !u2.quitting {
		t.Fatal("closing the window without a tray did not quit")
	}
}

// The tray icon is the app icon with a dot of the state's colour.
func TestTrayIcon(t *testing.T) {
	decode := func(r fyne.Resource) image.Image {
		img, err := png.Decode(bytes.NewReader(r.Content()))
		if err != nil {
			t.Fatal(err)
		}
		if b := img.Bounds(); b.Dx() != 64 || b.Dy() != 64 {
			t.Fatalf("%s: %v", r.Name(), b)
		}
		return img
	}
	ok, fault, none := decode(trayIcon(lampOK)), decode(trayIcon(lampFault)), decode(trayIcon(lampUnknown))
	dot := func(img image.Image) (r, g, b uint32) { r, g, b, _ = img.At(50, 50).RGBA(); return }
	if r, g, _ := dot(ok); g <= r {
		t.Errorf("Ready dot is not green: %v", ok.At(50, 50))
	}
	if r, g, _ := dot(fault); r <= g {
		t.Errorf("fault dot is not red: %v", fault.At(50, 50))
	}
	if dot(none); none.At(50, 50) == ok.At(50, 50) {
		t.Error("no-state icon has the Ready dot")
	}
	if trayIcon(lampOK) != trayIcon(lampOK) {
		t.Error("icon drawn again")
	}
}
