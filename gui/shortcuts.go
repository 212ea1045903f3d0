package gui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"

	"github.com/tandem-softphone/tandem/core"
	"github.com/tandem-softphone/tandem/sipua"
)

// callKey is a call action the keyboard reaches.
type callKey int

const (
	keyAnswer callKey = iota
	keyHangup
	keyMute
	keyHold
)

// callShortcuts are the call actions' shortcuts: Ctrl+Shift (Cmd+Shift on
// macOS) and a letter, so that they never clash with typing a number or a
// transfer target. The Call menu shows them.
var callShortcuts = []struct {
	key   callKey
	label string
	sc    *desktop.CustomShortcut
}{
	{keyAnswer, "Answer", &desktop.CustomShortcut{KeyName: fyne.KeyA, Modifier: fyne.KeyModifierShortcutDefault | fyne.KeyModifierShift}},
	{keyHangup, "Hang up", &desktop.CustomShortcut{KeyName: fyne.KeyE, Modifier: fyne.KeyModifierShortcutDefault | fyne.KeyModifierShift}},
	{keyMute, "Mute / unmute", &desktop.CustomShortcut{KeyName: fyne.KeyM, Modifier: fyne.KeyModifierShortcutDefault | fyne.KeyModifierShift}},
	{keyHold, "Hold / resume", &desktop.CustomShortcut{KeyName: fyne.KeyH, Modifier: fyne.KeyModifierShortcutDefault | fyne.KeyModifierShift}},
}

// addShortcuts puts the call shortcuts on the window's canvas.
func (u *UI) addShortcuts() {
	for _, s := range callShortcuts {
		key := s.key
		u.win.Canvas().AddShortcut(s.sc, func(fyne.Shortcut) { u.callKey(key) })
	}
}

// callMenu is the Call menu: the call actions with their shortcuts.
func (u *UI) callMenu() *fyne.Menu {
	items := make([]*fyne.MenuItem, 0, len(callShortcuts))
	for _, s := range callShortcuts {
		key := s.key
		item := fyne.NewMenuItem(s.label, func() { u.callKey(key) })
		item.Shortcut = s.sc
		items = append(items, item)
	}
	return fyne.NewMenu("Call", items...)
}

// callKey runs a call action on the call the core names for it (a ringing
// call to answer, the active call for the others), as its row's button
// would: a failure shows under the call. Without such a call it does
// nothing.
func (u *UI) callKey(k callKey) {
	if !u.onMain {
		return
	}
	calls := u.st.Calls
	if k == keyAnswer {
		if ci, ok := core.RingingCall(calls); ok {
			if r := u.main.calls.rows[ci.ID]; r != nil {
				r.onAnswer()
			}
		}
		return
	}
	ci, ok := core.ActiveCall(calls)
	if !ok {
		if k != keyHangup {
			return
		}
		// Hanging up a call that rings turns it down.
		if ci, ok = core.RingingCall(calls); !ok {
			return
		}
	}
	r := u.main.calls.rows[ci.ID]
	if r == nil {
		return
	}
	switch k {
	case keyHangup:
		if ci.State == sipua.CallRinging {
			r.onReject()
			return
		}
		r.onHangup()
	case keyMute:
		r.onMute()
	case keyHold:
		r.onHold()
	}
}
