package gui

import (
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/tandem-softphone/tandem/continuity"
	"github.com/tandem-softphone/tandem/core"
)

// BC-30: the calls an earlier run left connected are offered after the
// login; Restore and Discard go to the core.
func TestSavedCallsOffer(t *testing.T) {
	for _, tc := range []struct {
		name   string
		button func(p *savedCallsPrompt) *widget.Button
		intent string
	}{
		{"restore", func(p *savedCallsPrompt) *widget.Button { return p.restore }, "RestoreSavedCalls"},
		{"discard", func(p *savedCallsPrompt) *widget.Button { return p.discard }, "DiscardSavedCalls"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(sampleSaved())
			u := newTestUI(t, f)
			p := u.main.saved
			if !p.banner.box.Visible() || !p.restore.Visible() || !p.discard.Visible() || p.dismiss.Visible() {
				t.Fatal("the offer of the saved call is not shown with Restore and Discard")
			}
			want := "1 call was still connected when Tandem stopped: with Claire Martin, since 14:18"
			if got := p.banner.title.Text; got != want {
				t.Errorf("prompt %q, want %q", got, want)
			}
			if p.restore.Disabled() || p.discard.Disabled() {
				t.Error("the buttons are disabled while logged in")
			}
			if p.banner.spec.kind != bannerInfo {
				t.Errorf("banner kind %v, want info", p.banner.spec.kind)
			}
			test.Tap(tc.button(p))
			wantCalls(t, f, tc.intent)
			if p.banner.box.Visible() {
				t.Error("the prompt stays after the offer was taken")
			}
		})
	}
}

// BC-30: a failed restore is shown, and stays until dismissed, although
// the core has taken the offer out of the State.
func TestSavedCallsRestoreFailure(t *testing.T) {
	f := newFake(sampleSaved())
	f.err = errRefused
	u := newTestUI(t, f)
	p := u.main.saved
	test.Tap(p.restore)
	wantCalls(t, f, "RestoreSavedCalls")
	if !p.banner.box.Visible() || p.banner.spec.kind != bannerError {
		t.Fatal("the failure is not shown")
	}
	if got := p.banner.detail.Text; got != "Restore failed: "+errRefused.Error() {
		t.Errorf("detail %q", got)
	}
	if p.restore.Visible() || p.discard.Visible() || !p.dismiss.Visible() {
		t.Error("only Dismiss should be offered once the offer is gone")
	}
	test.Tap(p.dismiss)
	if p.banner.box.Visible() {
		t.Error("the failure stays after Dismiss")
	}
}

// Restoring needs the SIP endpoint of a logged-in agent: during a
// switchover only Discard is offered; and the login view never shows it.
func TestSavedCallsWaitForLogin(t *testing.T) {
	st := sampleSaved()
	st.Phase = continuity.SwitchingOver
	f := newFake(st)
	u := newTestUI(t, f)
	p := u.main.saved
	if !p.restore.Disabled() || p.discard.Disabled() {
		t.Errorf("during a switchover: restore disabled %v, discard disabled %v", p.restore.Disabled(), p.discard.Disabled())
	}
	st.Phase = continuity.Idle
	f.set(st)
	if u.win.Content() != u.login.content {
		t.Fatal("no login view")
	}
	if strings.Contains(canvasText(u.win.Canvas()), "still connected") {
		t.Error("the login view shows the saved calls")
	}
}

func TestSavedCallsText(t *testing.T) {
	now := testNow
	for _, tc := range []struct {
		name  string
		saved []core.SavedCall
		want  string
	}{
		{"address only", []core.SavedCall{{Peer: "sip:9000@site1.example", Since: at(-time.Hour)}},
			"1 call was still connected when Tandem stopped: with 9000@site1.example, since 13:30"},
		{"yesterday", []core.SavedCall{{PeerName: "Bob", Since: at(-20 * time.Hour)}},
			"1 call was still connected when Tandem stopped: with Bob, since 1 Mar 18:30"},
		{"no answer time", []core.SavedCall{{PeerName: "Bob"}},
			"1 call was still connected when Tandem stopped: with Bob"},
		{"two", []core.SavedCall{{PeerName: "Bob", Since: at(-time.Hour)}, {Peer: "sips:7002@lyon", Since: at(-time.Minute)}},
			"2 calls were still connected when Tandem stopped: with Bob, since 13:30; with 7002@lyon, since 14:29"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := savedCallsText(tc.saved, now); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// BC-30: the offer, as the agent sees it after the login.
func TestGoldenMainSavedCalls(t *testing.T) {
	u := goldenUI(t, sampleSaved(), themeLight)
	test.AssertImageMatches(t, "main_saved_calls.png", u.win.Canvas().Capture())
}
