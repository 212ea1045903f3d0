package gui

import (
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"

	"github.com/tandem-softphone/tandem/continuity"
	"github.com/tandem-softphone/tandem/sipua"
)

// The call shortcuts reach the call the core names: answer the ringing
// call, hang up / mute / hold the connected one. (Fyne's test canvas does
// not deliver shortcuts: the handler is called as the window would.)
func TestCallShortcuts(t *testing.T) {
	st := sampleConnected()
	st.Calls = append(st.Calls, sipua.CallInfo{ID: "r1", Direction: sipua.Incoming, State: sipua.CallRinging, PeerURI: "sip:5551234@paris.example"})
	f := newFake(st)
	u := newTestUI(t, f)
	for _, k := range []callKey{keyAnswer, keyHangup, keyMute, keyHold} {
		u.callKey(k)
	}
	wantCalls(t, f, "Answer(r1)", "Hangup(c1)", "Mute(c1,true)", "Hold(c1)")

	// A held call resumes; hanging up a call that only rings rejects it.
	held := sampleReady()
	held.Calls = []sipua.CallInfo{
		{ID: "h1", Direction: sipua.Outgoing, State: sipua.CallHeld, LocalHold: true, Muted: true},
	}
	f2 := newFake(held)
	u2 := newTestUI(t, f2)
	u2.callKey(keyHold)
	u2.callKey(keyMute)
	u2.callKey(keyAnswer) // nothing rings: nothing happens
	ringing := sampleRinging()
	f2.set(ringing)
	u2.callKey(keyHangup)
	u2.callKey(keyHold) // no active call: nothing
	wantCalls(t, f2, "Resume(h1)", "Mute(h1,false)", "Reject(r1)")

	// Not on the main view (logged out): no action.
	idle := sampleIdle()
	idle.Phase = continuity.LoggedOut
	idle.Calls = ringing.Calls
	f3 := newFake(idle)
	u3 := newTestUI(t, f3)
	u3.callKey(keyAnswer)
	wantCalls(t, f3)
}

// The Call menu lists the actions with their shortcuts, and its items do
// what the shortcuts do.
func TestCallMenuShowsShortcuts(t *testing.T) {
	f := newFake(sampleRinging())
	u := newTestUI(t, f)
	var menu *fyne.Menu
	for _, m := range u.win.MainMenu().Items {
		if m.Label == "Call" {
			menu = m
		}
	}
	if menu == nil {
		t.Fatal("no Call menu")
	}
	want := map[string]fyne.KeyName{"Answer": fyne.KeyA, "Hang up": fyne.KeyE, "Mute / unmute": fyne.KeyM, "Hold / resume": fyne.KeyH}
	if len(menu.Items) != len(want) {
		t.Fatalf("%d items", len(menu.Items))
	}
	for _, it := range menu.Items {
		sc, ok := it.Shortcut.(*desktop.CustomShortcut)
		if !ok || sc.KeyName != want[it.Label] || sc.Modifier != fyne.KeyModifierShortcutDefault|fyne.KeyModifierShift {
			t.Errorf("%s: shortcut %v, want Ctrl+Shift+%s", it.Label, it.Shortcut, want[it.Label])
		}
	}
	menu.Items[0].Action()
	wantCalls(t, f, "Answer(r1)")
}
