package gui

import (
	"image/color"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/tandem-softphone/tandem/core"
	"github.com/tandem-softphone/tandem/media/rtpstream"
	"github.com/tandem-softphone/tandem/sipua"
)

// sampleConnected: the agent talks with a customer who called 2 min 5 s ago.
func sampleConnected() core.State {
	st := sampleReady()
	st.Calls = []sipua.CallInfo{{
		ID: "c1", Direction: sipua.Incoming, State: sipua.CallConnected,
		PeerURI: "sip:+33140000001@paris.example", PeerName: "Claire Martin",
		Created: at(-130 * time.Second), Answered: at(-125 * time.Second),
		HasMedia: true,
		Media: sipua.MediaInfo{Codec: "PCMU/8000 (pt 0)", Stats: rtpstream.Stats{
			MOS: 4.32, FractionLost: 0.012, Jitter: 14 * time.Millisecond}},
	}}
	return st
}

// sampleRinging: a call rings for the agent.
func sampleRinging() core.State {
	st := sampleReady()
	st.Calls = []sipua.CallInfo{{ID: "r1", Direction: sipua.Incoming, State: sipua.CallRinging,
		PeerURI: "sip:5551234@paris.example", Created: at(-2 * time.Second)}}
	return st
}

func callRowOf(t *testing.T, u *UI, id string) *callRow {
	t.Helper()
	r := u.main.calls.rows[id]
	if r == nil {
		t.Fatalf("no row for call %s", id)
	}
	return r
}

func TestRingingCallShowsAnswerAndReject(t *testing.T) {
	f := newFake(sampleRinging())
	u := newTestUI(t, f)
	if !u.main.calls.card.Visible() {
		t.Fatal("the calls panel is hidden during a call")
	}
	r := callRowOf(t, u, "r1")
	for name, b := range map[string]*shown{"Answer": {r.answer, true}, "Reject": {r.reject, true},
		"Hang up": {r.hangup, false}, "Hold": {r.hold, false}, "Mute": {r.mute, false}} {
		if b.o.Visible() != b.want {
			t.Errorf("%s shown %v, want %v", name, b.o.Visible(), b.want)
		}
	}
	if r.peer.Text != "5551234@paris.example" || r.status.Text != "Incoming call · ringing" {
		t.Errorf("peer %q status %q", r.peer.Text, r.status.Text)
	}
	if r.timer.Text != "" {
		t.Errorf("timer %q before the answer", r.timer.Text)
	}
	test.Tap(r.answer)
	test.Tap(r.reject)
	wantCalls(t, f, "Answer(r1)", "Reject(r1)")
}

// shown is a control and whether it should be shown.
type shown struct {
	o    fyne.CanvasObject
	want bool
}

func TestOutgoingCallCanBeHungUp(t *testing.T) {
	for _, s := range []sipua.CallState{sipua.CallDialing, sipua.CallEarly} {
		st := sampleReady()
		st.Calls = []sipua.CallInfo{{ID: "o1", Direction: sipua.Outgoing, State: s, PeerURI: "sip:5551234@paris.example"}}
		f := newFake(st)
		u := newTestUI(t, f)
		r := callRowOf(t, u, "o1")
		if r.answer.Visible() || r.hold.Visible() || r.transferBox.Visible() || !r.hangup.Visible() {
			t.Errorf("%v: answer %v hold %v transfer %v hang up %v", s,
				r.answer.Visible(), r.hold.Visible(), r.transferBox.Visible(), r.hangup.Visible())
		}
		test.Tap(r.hangup)
		wantCalls(t, f, "Hangup(o1)")
	}
}

func TestConnectedCallControls(t *testing.T) {
	f := newFake(sampleConnected())
	u := newTestUI(t, f)
	r := callRowOf(t, u, "c1")
	if r.answer.Visible() || r.reject.Visible() {
		t.Error("Answer or Reject shown on a connected call")
	}
	if r.peer.Text != "Claire Martin" || r.status.Text != "Incoming call · connected" {
		t.Errorf("peer %q status %q", r.peer.Text, r.status.Text)
	}
	if want := "G.711 µ-law · MOS 4.3 · loss 1.2 % · jitter 14 ms"; r.quality.Text != want || !r.quality.Visible() {
		t.Errorf("quality %q shown %v, want %q", r.quality.Text, r.quality.Visible(), want)
	}
	if r.hold.Text != "Hold" || r.mute.Text != "Mute" {
		t.Errorf("buttons %q %q", r.hold.Text, r.mute.Text)
	}
	test.Tap(r.hold)
	test.Tap(r.mute)
	if !r.transfer.Disabled() {
		t.Error("Transfer is enabled with no target")
	}
	test.Type(r.target, "7002")
	test.Tap(r.transfer)
	test.Tap(r.hangup)
	wantCalls(t, f, "Hold(c1)", "Mute(c1,true)", "Transfer(c1,7002)", "Hangup(c1)")

	// Held by us and muted: the same buttons undo it, and the quality
	// line goes while no audio flows.
	st := sampleConnected()
	st.Calls[0].State, st.Calls[0].LocalHold, st.Calls[0].Muted = sipua.CallHeld, true, true
	f.set(st)
	if r2 := callRowOf(t, u, "c1"); r2 != r {
		t.Error("the row was rebuilt: a transfer target being typed would be lost")
	}
	if r.hold.Text != "Resume" || r.mute.Text != "Unmute" {
		t.Errorf("buttons %q %q", r.hold.Text, r.mute.Text)
	}
	if r.status.Text != "Incoming call · on hold · muted" || r.quality.Visible() {
		t.Errorf("status %q, quality shown %v", r.status.Text, r.quality.Visible())
	}
	test.Tap(r.hold)
	test.Tap(r.mute)
	wantCalls(t, f, "Hold(c1)", "Mute(c1,true)", "Transfer(c1,7002)", "Hangup(c1)", "Resume(c1)", "Mute(c1,false)")
}

func TestCallIntentFailureIsShown(t *testing.T) {
	f := newFake(sampleConnected())
	f.err = errRefused
	u := newTestUI(t, f)
	r := callRowOf(t, u, "c1")
	test.Tap(r.hold)
	if !r.failure.label.Visible() || r.failure.label.Text != "Hold failed: "+errRefused.Error() {
		t.Errorf("failure %q shown %v", r.failure.label.Text, r.failure.label.Visible())
	}
}

func TestAttendedTransfer(t *testing.T) {
	st := sampleConnected()
	st.Calls[0].State, st.Calls[0].LocalHold = sipua.CallHeld, true
	st.Calls = append(st.Calls, sipua.CallInfo{ID: "c2", Direction: sipua.Outgoing, State: sipua.CallConnected,
		PeerURI: "sip:7002@paris.example", PeerName: "Supervisor", Answered: at(-10 * time.Second)})
	f := newFake(st)
	u := newTestUI(t, f)
	r := callRowOf(t, u, "c1")
	if len(r.joins.Objects) != 1 {
		t.Fatalf("%d attended transfer buttons, want 1", len(r.joins.Objects))
	}
	b := r.joins.Objects[0].(*widget.Button)
	if b.Text != "Transfer to Supervisor" {
		t.Errorf("button %q", b.Text)
	}
	test.Tap(b)
	wantCalls(t, f, "AttendedTransfer(c1,c2)")
	if n := len(callRowOf(t, u, "c2").joins.Objects); n != 0 {
		t.Errorf("the consultation call offers %d attended transfers, want none", n)
	}

	// Once the consultation call ends, there is nobody to hand over to.
	st.Calls = st.Calls[:1]
	f.set(st)
	if len(r.joins.Objects) != 0 {
		t.Errorf("%d attended transfer buttons after the consultation ended", len(r.joins.Objects))
	}
	if _, ok := u.main.calls.rows["c2"]; ok {
		t.Error("the ended call's row is kept")
	}
}

func TestCallTimerFollowsTheClock(t *testing.T) {
	u := newTestUI(t, newFake(sampleConnected()))
	r := callRowOf(t, u, "c1")
	if r.timer.Text != "2:05" {
		t.Errorf("timer %q, want 2:05", r.timer.Text)
	}
	u.opts.Now = func() time.Time { return at(time.Hour) }
	u.redrawClock()
	if r.timer.Text != "1:02:05" {
		t.Errorf("timer %q after an hour, want 1:02:05", r.timer.Text)
	}
}

func TestCallsPanelHiddenWithoutCalls(t *testing.T) {
	f := newFake(sampleConnected())
	u := newTestUI(t, f)
	f.set(sampleReady())
	if u.main.calls.card.Visible() || len(u.main.calls.rows) != 0 {
		t.Errorf("after the call: panel shown %v, %d rows", u.main.calls.card.Visible(), len(u.main.calls.rows))
	}
}

func TestDialPadSendsTonesDuringACall(t *testing.T) {
	f := newFake(sampleConnected())
	u := newTestUI(t, dialingBackend{f})
	d := u.main.dial
	test.Tap(d.keys['5'])
	test.Tap(d.keys['#'])
	if d.number.Text != "" {
		t.Errorf("number %q: the keys typed into the field during a call", d.number.Text)
	}
	if d.note.Text != "The keys send tones to Claire Martin." {
		t.Errorf("note %q", d.note.Text)
	}
	wantCalls(t, f, "SendDTMF(c1,5)", "SendDTMF(c1,#)")

	// On hold, the keys type the number again (say, for a consultation call).
	st := sampleConnected()
	st.Calls[0].State, st.Calls[0].LocalHold = sipua.CallHeld, true
	f.set(st)
	test.Tap(d.keys['7'])
	if d.number.Text != "7" {
		t.Errorf("number %q, want 7", d.number.Text)
	}
	wantCalls(t, f, "SendDTMF(c1,5)", "SendDTMF(c1,#)")
}

func TestRingingCallNotifiesOnce(t *testing.T) {
	f := newFake(sampleReady())
	u := newTestUI(t, f)
	test.AssertNotificationSent(t, &fyne.Notification{Title: "Incoming call", Content: "Call from 5551234@paris.example"}, func() {
		f.set(sampleRinging())
	})
	// The same call's next change does not notify again.
	st := sampleRinging()
	st.Calls[0].Created = at(-time.Second)
	test.AssertNotificationSent(t, nil, func() { f.set(st) })
	// Nor does an outgoing call, or the call once answered.
	st.Calls[0].State = sipua.CallConnected
	st.Calls = append(st.Calls, sipua.CallInfo{ID: "o1", Direction: sipua.Outgoing, State: sipua.CallDialing})
	test.AssertNotificationSent(t, nil, func() { f.set(st) })
	if len(u.main.calls.announced) != 1 {
		t.Errorf("announced %v", u.main.calls.announced)
	}
}

func TestCallTexts(t *testing.T) {
	for _, tc := range []struct {
		ci   sipua.CallInfo
		want string
	}{
		{sipua.CallInfo{Direction: sipua.Outgoing, State: sipua.CallDialing}, "Outgoing call · calling…"},
		{sipua.CallInfo{Direction: sipua.Outgoing, State: sipua.CallEarly}, "Outgoing call · ringing at the other end"},
		{sipua.CallInfo{Direction: sipua.Incoming, State: sipua.CallHeld, RemoteHold: true}, "Incoming call · held by the other party"},
		{sipua.CallInfo{Direction: sipua.Incoming, State: sipua.CallHeld, LocalHold: true, RemoteHold: true}, "Incoming call · on hold (both sides)"},
		{sipua.CallInfo{Direction: sipua.Incoming, State: sipua.CallConnected, Transfer: sipua.TransferPending}, "Incoming call · connected · transferring…"},
		{sipua.CallInfo{Direction: sipua.Incoming, State: sipua.CallConnected, Transfer: sipua.TransferFailed, TransferCode: 486}, "Incoming call · connected · transfer failed (486)"},
		{sipua.CallInfo{Direction: sipua.Outgoing, State: sipua.CallEnding}, "Outgoing call · hanging up…"},
	} {
		if got := callStatusText(tc.ci); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.ci, got, tc.want)
		}
	}
	ci := sipua.CallInfo{State: sipua.CallConnected, HasMedia: true, Media: sipua.MediaInfo{Codec: "opus/48000/2 (pt 111)", Secure: true}}
	if got := qualityText(ci); got != "Opus · SRTP · loss 0.0 % · jitter 0 ms" {
		t.Errorf("quality before any report: %q", got)
	}
	if got := callTimer(sipua.CallInfo{Answered: at(time.Second)}, testNow); got != "0:00" {
		t.Errorf("timer with the clock behind the answer: %q", got)
	}
	if got := peerText(sipua.CallInfo{PeerURI: "sips:bob@example.com"}); got != "bob@example.com" {
		t.Errorf("peer %q", got)
	}
}

// The calls panel fits the window with two calls (call waiting).
func TestMainViewFitsTheWindowWithTwoCalls(t *testing.T) {
	st := sampleConnected()
	st.Calls = append(st.Calls, sampleRinging().Calls...)
	u := newTestUI(t, newFake(st))
	if min := u.main.content.MinSize(); min.Width > defaultWindowSize.Width || min.Height > defaultWindowSize.Height {
		t.Errorf("the main view needs %v, more than the default window %v", min, defaultWindowSize)
	}
	if !strings.Contains(canvasText(u.win.Canvas()), "Claire Martin") {
		t.Error("the call is not shown")
	}
}

// A ringing call draws the eye: a bar of the theme's primary colour and
// the status in that colour; none once it is answered.
func TestRingingCallAccent(t *testing.T) {
	f := newFake(sampleRinging())
	u := newTestUI(t, f)
	r := callRowOf(t, u, "r1")
	if r.accent.FillColor != theme.Color(theme.ColorNamePrimary) || r.status.Importance != widget.HighImportance {
		t.Errorf("ringing: accent %v, status importance %v", r.accent.FillColor, r.status.Importance)
	}
	st := sampleRinging()
	st.Calls[0].State, st.Calls[0].Answered = sipua.CallConnected, testNow
	f.set(st)
	if r.accent.FillColor != color.Transparent || r.status.Importance != widget.MediumImportance {
		t.Errorf("answered: accent %v, status importance %v", r.accent.FillColor, r.status.Importance)
	}
}

// The call's timer sits on the buttons' line, centred with them.
func TestCallTimerAlignedWithButtons(t *testing.T) {
	u := newTestUI(t, newFake(sampleConnected()))
	u.win.Resize(defaultWindowSize)
	r := callRowOf(t, u, "c1")
	d := u.app.Driver()
	centre := func(o fyne.CanvasObject) float32 { return d.AbsolutePositionForObject(o).Y + o.Size().Height/2 }
	if r.timer.Text != "2:05" || !r.timer.Visible() {
		t.Fatalf("timer %q shown %v", r.timer.Text, r.timer.Visible())
	}
	if tc, bc := centre(r.timer), centre(r.hangup); tc-bc > 1 || bc-tc > 1 {
		t.Errorf("timer centred at y=%v, buttons at y=%v", tc, bc)
	}
}

// An incoming call as the agent first sees it.
func TestGoldenMainRinging(t *testing.T) {
	u := goldenUI(t, sampleRinging(), themeLight)
	test.AssertImageMatches(t, "main_ringing.png", u.win.Canvas().Capture())
}
