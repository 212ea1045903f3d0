package gui

import (
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"github.com/tandem-softphone/tandem/continuity"
	"github.com/tandem-softphone/tandem/core"
	"github.com/tandem-softphone/tandem/internal/credstore"
)

// The golden images of the main views, at the window's default size. A
// changed view fails here with the new image in testdata/failed/: look at
// it, and move it into testdata/ when it is right.

// skipUnderRace skips a golden image under the race detector, where the
// software painter takes 5 to 10 s an image: make gui-test compares them
// without it.
func skipUnderRace(t *testing.T) {
	t.Helper()
	if raceEnabled {
		t.Skip("golden images are compared without -race (make gui-test)")
	}
}

func goldenUI(t *testing.T, st core.State, themeChoice string) *UI {
	t.Helper()
	skipUnderRace(t)
	u := newTestUI(t, newFake(st))
	u.setTheme(themeChoice)
	u.win.Resize(defaultWindowSize)
	return u
}

func TestGoldenLogin(t *testing.T) {
	skipUnderRace(t)
	u := newTestUIWith(t, newFake(sampleIdle()), func(o *Options) { o.Passwords = &credstore.Memory{} })
	u.setTheme(themeLight)
	u.win.Resize(defaultWindowSize)
	u.login.user.SetText("alice")
	test.AssertImageMatches(t, "login.png", u.win.Canvas().Capture())
}

func TestGoldenLoginError(t *testing.T) {
	skipUnderRace(t)
	f := newFake(sampleIdle())
	failed := sampleIdle()
	failed.Phase = continuity.LoggedOut
	failed.LoginError = core.LoginError{Kind: core.ErrorAuth, Text: "site 1 (127.0.0.1:7001): the Config Server refused user alice"}
	f.loginSt, f.loginErr = &failed, errRefused
	u := newTestUI(t, f)
	u.setTheme(themeLight)
	u.win.Resize(defaultWindowSize)
	u.login.user.SetText("alice")
	test.Type(u.login.password, "wrong")
	test.Tap(u.login.button)
	test.AssertImageMatches(t, "login_error.png", u.win.Canvas().Capture())
}

func TestGoldenMainReady(t *testing.T) {
	u := goldenUI(t, sampleReady(), themeLight)
	test.AssertImageMatches(t, "main_ready.png", u.win.Canvas().Capture())
}

func TestGoldenMainReadyDark(t *testing.T) {
	u := goldenUI(t, sampleReady(), themeDark)
	test.AssertImageMatches(t, "main_ready_dark.png", u.win.Canvas().Capture())
}

// BC-13: the countdown to a switchover.
func TestGoldenMainCountdown(t *testing.T) {
	u := goldenUI(t, sampleCountdown(), themeLight)
	test.AssertImageMatches(t, "main_countdown.png", u.win.Canvas().Capture())
}

// BC-20: a switchover under way, with its timeline open.
func TestGoldenMainSwitching(t *testing.T) {
	st := sampleCountdown()
	st.Countdowns = nil
	st.Phase, st.Site = continuity.SwitchingOver, 2
	st.Sites[0].Configuration, st.Sites[0].Statistic, st.Sites[0].Telephony = core.ServiceNone, core.ServiceNone, core.ServiceNone
	started := at(-time.Second)
	st.Timelines = append(st.Timelines, continuity.Timeline{Kind: "switchover", Trigger: "telephony service lost for 30 s", From: 1, To: 2, Started: started,
		Steps: []continuity.Step{{At: started.Add(200 * time.Millisecond), Name: "authenticated"}, {At: started.Add(500 * time.Millisecond), Name: "register DN 7002"}}})
	u := goldenUI(t, st, themeLight)
	u.main.activity.tabs.Select(u.main.activity.timelinesTab)
	test.AssertImageMatches(t, "main_switching.png", u.win.Canvas().Capture())
}

// BC-14, BC-15: configuration and statistic losses, as warnings.
func TestGoldenMainWarnings(t *testing.T) {
	st := sampleReady()
	st.Sites[0].Configuration, st.Sites[0].Statistic = core.ServiceOff, core.ServiceOff
	st.Statistic.Known = false
	u := goldenUI(t, st, themeLight)
	test.AssertImageMatches(t, "main_warnings.png", u.win.Canvas().Capture())
}

func TestGoldenSettings(t *testing.T) {
	u := goldenUI(t, sampleReady(), themeLight)
	u.showSettings()
	test.AssertImageMatches(t, "settings.png", u.win.Canvas().Capture())
}

// A connected call, with its controls and quality, and the dial pad
// sending tones on it.
func TestGoldenMainCall(t *testing.T) {
	skipUnderRace(t)
	u := newTestUI(t, dialingBackend{newFake(sampleConnected())})
	u.setTheme(themeLight)
	u.win.Resize(defaultWindowSize)
	test.AssertImageMatches(t, "main_call.png", u.win.Canvas().Capture())
}
