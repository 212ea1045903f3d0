package gui

import (
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"github.com/tandem-softphone/tandem/core"
	"github.com/tandem-softphone/tandem/sipua"
)

// sampleHistory is an agent Ready with four calls behind it (answered,
// missed, busy and transferred) and two new voice messages.
func sampleHistory() core.State {
	st := sampleReady()
	call := func(id string, dir sipua.CallDirection, peer, name string, created, answered, ended time.Duration, why sipua.EndReason, code int) sipua.CallInfo {
		ci := sipua.CallInfo{ID: id, Direction: dir, PeerURI: peer, PeerName: name, State: sipua.CallEnded,
			Created: at(created), Ended: at(ended), EndReason: why, Code: code}
		if answered != 0 {
			ci.Answered = at(answered)
		}
		return ci
	}
	st.Voicemail = core.Voicemail{Known: true, Waiting: true, New: 2, Old: 5, Site: 1}
	st.CallHistory = []sipua.CallInfo{
		call("c1", sipua.Incoming, "sip:2001@paris.example", "Claire Martin", -24*time.Hour, -24*time.Hour+5*time.Second, -24*time.Hour+245*time.Second, sipua.EndRemoteHangup, 0),
		call("c2", sipua.Incoming, "sip:2002@paris.example", "", -40*time.Minute, 0, -40*time.Minute+20*time.Second, sipua.EndCancelled, 0),
		call("c3", sipua.Outgoing, "sip:5551234@paris.example", "", -30*time.Minute, 0, -30*time.Minute+3*time.Second, sipua.EndBusy, 486),
		call("c4", sipua.Outgoing, "sip:2001@lyon.example", "Claire Martin", -10*time.Minute, -10*time.Minute+4*time.Second, -8*time.Minute, sipua.EndTransferred, 0),
	}
	return st
}

func TestCallOutcome(t *testing.T) {
	st := sampleHistory()
	want := []string{
		"From Claire Martin · answered, 4:00",
		"From 2002@paris.example · missed",
		"To 5551234@paris.example · busy",
		"To Claire Martin · answered, 1:56, transferred",
	}
	for i, ci := range st.CallHistory {
		if got := historyLine(ci); got != want[i] {
			t.Errorf("call %s: %q, want %q", ci.ID, got, want[i])
		}
	}
	if got := callOutcome(sipua.CallInfo{Direction: sipua.Outgoing, EndReason: sipua.EndFailed, Code: 503}); got != "failed (503)" {
		t.Errorf("failed call: %q", got)
	}
}

// The history lists the ended calls newest first; "Call again" dials the
// peer's number, and the number field offers the recent numbers.
func TestHistoryRedialAndRecentNumbers(t *testing.T) {
	f := newFake(sampleHistory())
	u := newTestUI(t, dialingBackend{f})
	h := u.main.history
	if len(h.redial) != 4 {
		t.Fatalf("%d rows, want 4", len(h.redial))
	}
	if !strings.Contains(canvasText(u.win.Canvas()), "Call history") {
		t.Error("no Call history tab")
	}
	test.Tap(h.redial[1]) // the busy call: the second newest
	wantCalls(t, f, "Dial(5551234)")
	if got := u.main.dial.recent; strings.Join(got, ",") != "2001,5551234,2002" {
		t.Errorf("recent numbers %q, want 2001,5551234,2002", got)
	}

	// Logged out, or with a backend that cannot dial, nothing is redialled.
	st := sampleHistory()
	st.Phase = 0
	f.set(st)
	if !h.redial[0].Disabled() {
		t.Error("redial enabled while not logged in")
	}
	u2 := newTestUI(t, newFake(sampleHistory()))
	if !u2.main.history.redial[0].Disabled() {
		t.Error("redial enabled on a backend that cannot dial")
	}
}

func TestGoldenHistory(t *testing.T) {
	skipUnderRace(t)
	u := newTestUI(t, dialingBackend{newFake(sampleHistory())})
	u.setTheme(themeLight)
	u.win.Resize(defaultWindowSize)
	u.main.activity.tabs.Select(u.main.history.tab)
	test.AssertImageMatches(t, "main_history.png", u.win.Canvas().Capture())
}
