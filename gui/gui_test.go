package gui

import (
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"

	"github.com/tandem-softphone/tandem/continuity"
	"github.com/tandem-softphone/tandem/core"
	"github.com/tandem-softphone/tandem/wire"
)

func TestLoginSendsCredentialsAndOpensMainView(t *testing.T) {
	f := newFake(sampleIdle())
	ready := sampleReady()
	f.loginSt = &ready
	u := newTestUI(t, f)
	if u.win.Content() != u.login.content {
		t.Fatal("the login view is not shown before a login")
	}
	u.login.user.SetText("")
	test.Type(u.login.user, "alice")
	test.Type(u.login.password, "s3cret")
	test.Tap(u.login.button)
	wantCalls(t, f, "Login(alice,s3cret)")
	if u.win.Content() != u.main.content {
		t.Fatal("the main view is not shown after a login")
	}
	if got := u.app.Preferences().String(prefLastUser); got != "alice" {
		t.Errorf("remembered user %q, want alice", got)
	}
	if strings.Contains(u.app.Preferences().String(prefLastUser), "s3cret") {
		t.Error("the password was stored in the preferences")
	}
}

func TestLoginRemembersUserNotPassword(t *testing.T) {
	f := newFake(sampleIdle())
	a := freshApp(t)
	a.Preferences().SetString(prefLastUser, "bob")
	u := New(a, f, Options{})
	defer u.win.Close()
	if u.login.user.Text != "bob" {
		t.Errorf("user field %q, want the last user bob", u.login.user.Text)
	}
	if u.login.password.Text != "" {
		t.Error("the password field is not empty")
	}
}

func TestLoginErrors(t *testing.T) {
	for _, tc := range []struct {
		name       string
		le         core.LoginError
		wantTitle  string
		wantDetail string
	}{
		{"wrong password", core.LoginError{Kind: core.ErrorAuth, Text: "site 1 config server 127.0.0.1:7001: authentication failed"},
			"Wrong user name or password.", "site 1 config server 127.0.0.1:7001: authentication failed"},
		{"no site", core.LoginError{Kind: core.ErrorUnreachable, Text: "site 1: dial 127.0.0.1:7001: connection refused; site 2: dial 127.0.0.1:7101: connection refused"},
			"No site can be reached. Tandem keeps trying in the background.", "site 2: dial 127.0.0.1:7101"},
		{"unknown application", core.LoginError{Kind: core.ErrorUnknownApplication, Text: `site 1: no application "Desk_1"`},
			"names an application the site does not know", `no application "Desk_1"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(sampleIdle())
			failed := sampleIdle()
			failed.Phase = continuity.LoggedOut
			failed.LoginError = tc.le
			f.loginSt = &failed
			f.loginErr = errRefused
			u := newTestUI(t, f)
			test.Type(u.login.password, "x")
			test.Tap(u.login.button)
			if u.win.Content() != u.login.content {
				t.Fatal("the login view is not shown after a failed login")
			}
			if !strings.Contains(u.login.errTitle.Text, tc.wantTitle) || !u.login.errTitle.Visible() {
				t.Errorf("error title %q (shown %v), want %q", u.login.errTitle.Text, u.login.errTitle.Visible(), tc.wantTitle)
			}
			if !strings.Contains(u.login.errText.Text, tc.wantDetail) {
				t.Errorf("error detail %q, want it to contain %q", u.login.errText.Text, tc.wantDetail)
			}
			if u.login.button.Disabled() {
				t.Error("the login button stays disabled after the failure")
			}
		})
	}
}

func TestLoginFailureWithoutStateShowsTheError(t *testing.T) {
	f := newFake(sampleIdle())
	f.loginErr = errRefused
	u := newTestUI(t, f)
	test.Tap(u.login.button)
	if u.login.errTitle.Text != "Login failed." || u.login.errText.Text != errRefused.Error() {
		t.Errorf("error %q / %q", u.login.errTitle.Text, u.login.errText.Text)
	}
}

// BC-22: a login that found no site goes on in the background; when it
// succeeds, the main view opens by itself.
func TestLoginSucceedingInTheBackgroundOpensMainView(t *testing.T) {
	f := newFake(sampleIdle())
	waiting := sampleIdle()
	waiting.Phase = continuity.Waiting
	waiting.LoginError = core.LoginError{Kind: core.ErrorUnreachable, Text: "no site reachable"}
	f.loginSt = &waiting
	f.loginErr = errRefused
	u := newTestUI(t, f)
	test.Tap(u.login.button)
	if u.win.Content() != u.login.content {
		t.Fatal("main view shown while no site is reachable")
	}
	waiting.Countdowns = []core.Countdown{{What: "next attempt", At: at(3 * time.Second)}}
	f.set(waiting)
	if want := "Next attempt to reach a site in 3 s."; u.login.sites.Text != want {
		t.Errorf("login view says %q, want %q", u.login.sites.Text, want)
	}
	u.opts.Now = func() time.Time { return at(2 * time.Second) }
	u.redrawClock()
	if want := "Next attempt to reach a site in 1 s."; u.login.sites.Text != want {
		t.Errorf("a second later the login view says %q, want %q", u.login.sites.Text, want)
	}
	f.set(sampleReady())
	if u.win.Content() != u.main.content {
		t.Fatal("the main view did not open when the background login succeeded")
	}
}

func TestLoginShowsProgress(t *testing.T) {
	f := newFake(sampleIdle())
	u := newTestUI(t, f)
	u.async = func(func()) {} // the login never returns
	test.Tap(u.login.button)
	if !u.login.button.Disabled() || !u.login.busy.Visible() {
		t.Error("no progress shown while logging in")
	}
	st := sampleIdle()
	st.Phase, st.Site = continuity.Connecting, 2
	f.set(st)
	if want := "Connecting to Site\u00a02\u00a0·\u00a0Lyon…"; u.login.sites.Text != want {
		t.Errorf("progress %q, want %q", u.login.sites.Text, want)
	}
	test.Tap(u.login.button)
	wantCalls(t, f) // a second tap while logging in sends nothing
}

func TestAgentIntents(t *testing.T) {
	f := newFake(sampleReady())
	u := newTestUI(t, f)
	a := u.main.agent
	st := sampleReady()
	st.Agent.State = wire.StateNotReady
	f.set(st)
	test.Tap(a.ready)
	a.reason.SetSelected("Lunch")
	test.Tap(a.notReady)
	test.Tap(a.acw)
	test.Tap(a.logout)
	wantCalls(t, f, "Ready", "NotReady(Lunch)", "AfterCallWork", "Logout")
	if u.win.Content() != u.login.content {
		t.Error("the login view is not back after logging out")
	}
	if u.login.errTitle.Visible() {
		t.Errorf("an error is shown after the agent's own logout: %q", u.login.errTitle.Text)
	}
}

func TestAgentStateShown(t *testing.T) {
	f := newFake(sampleReady())
	u := newTestUI(t, f)
	a := u.main.agent
	for _, tc := range []struct {
		state, reason string
		want          string
		lamp          lampStatus
		readyOn       bool
	}{
		{wire.StateReady, "", "Ready", lampOK, false},
		{wire.StateNotReady, "Lunch", "Not Ready · Lunch", lampPending, true},
		{wire.StateAfterCallWork, "", "After Call Work", lampPending, true},
	} {
		st := sampleReady()
		st.Agent.State, st.Agent.Reason = tc.state, tc.reason
		f.set(st)
		if a.state.title.Text != tc.want || a.state.status != tc.lamp {
			t.Errorf("%s: shows %q (%v), want %q (%v)", tc.state, a.state.title.Text, a.state.status, tc.want, tc.lamp)
		}
		if a.ready.Disabled() == tc.readyOn {
			t.Errorf("%s: Ready button enabled %v, want %v", tc.state, !a.ready.Disabled(), tc.readyOn)
		}
	}
	if a.statName.Text != "Calls handled today" || a.statVal.Text != "12" {
		t.Errorf("statistic %q = %q", a.statName.Text, a.statVal.Text)
	}
}

func TestIntentFailureIsShown(t *testing.T) {
	f := newFake(sampleReady())
	f.err = errRefused
	u := newTestUI(t, f)
	a := u.main.agent
	st := sampleReady()
	st.Agent.State = wire.StateNotReady
	f.set(st)
	test.Tap(a.ready)
	if !a.failure.label.Visible() || a.failure.label.Text != "Ready failed: refused by the T-Server" {
		t.Errorf("failure %q shown %v", a.failure.label.Text, a.failure.label.Visible())
	}
	f.err = nil
	test.Tap(a.ready)
	if a.failure.label.Visible() {
		t.Error("the failure stays after a success")
	}
}

func TestAgentControlsWaitDuringSwitchover(t *testing.T) {
	st := sampleReady()
	st.Phase, st.Site = continuity.SwitchingOver, 2
	f := newFake(st)
	u := newTestUI(t, f)
	a := u.main.agent
	for name, b := range map[string]interface{ Disabled() bool }{
		"Ready": a.ready, "Not Ready": a.notReady, "After Call Work": a.acw, "Switch": u.main.sites.switchBtn, "Call": u.main.dial.call,
	} {
		if !b.Disabled() {
			t.Errorf("%s is enabled during a switchover", name)
		}
	}
	if a.logout.Disabled() {
		t.Error("Log out is disabled during a switchover")
	}
}

// BC-17: a supervisor's logout takes the agent back to the login view with
// the reason.
func TestSupervisorLogoutShowsReason(t *testing.T) {
	f := newFake(sampleReady())
	u := newTestUI(t, f)
	st := sampleReady()
	st.Phase = continuity.LoggedOut
	st.Agent.State, st.Agent.Reason = wire.StateLoggedOut, "end of shift"
	f.set(st)
	if u.win.Content() != u.login.content {
		t.Fatal("the login view is not shown after a supervisor's logout")
	}
	if u.login.errTitle.Text != "You were logged out by a supervisor." || u.login.errText.Text != "Reason: end of shift" {
		t.Errorf("shows %q / %q", u.login.errTitle.Text, u.login.errText.Text)
	}
}

// BC-13: the banner counts down to the switchover, and follows the clock.
func TestCountdownBanner(t *testing.T) {
	f := newFake(sampleCountdown())
	u := newTestUI(t, f)
	b := u.main.banner
	want := "Site\u00a01\u00a0·\u00a0Paris is unavailable: switching to Site\u00a02\u00a0·\u00a0Lyon in 23 s"
	if !b.box.Visible() || b.title.Text != want {
		t.Fatalf("banner %q (shown %v), want %q", b.title.Text, b.box.Visible(), want)
	}
	if b.detail.Text != "telephony service is unavailable" {
		t.Errorf("banner detail %q", b.detail.Text)
	}
	u.opts.Now = func() time.Time { return at(10*time.Second + 300*time.Millisecond) }
	u.redrawClock()
	if !strings.HasSuffix(b.title.Text, "in 13 s") {
		t.Errorf("after 10.3 s the banner says %q, want … in 13 s", b.title.Text)
	}
	// The telephony service came back: the switchover is cancelled (BC-21).
	f.set(sampleReady())
	if b.box.Visible() {
		t.Errorf("banner still shown after the countdown was cancelled: %q", b.title.Text)
	}
}

// BC-18: a re-launch of the SIP endpoint, with the switchover planned if
// the phone does not register in time.
func TestRelaunchBanner(t *testing.T) {
	st := sampleReady()
	st.Phase = continuity.Relaunching
	st.Countdowns = []core.Countdown{{What: "switchover", At: at(28 * time.Second)}}
	u := newTestUI(t, newFake(st))
	b := u.main.banner
	if b.title.Text != "Re-launching the SIP phone at Site\u00a01\u00a0·\u00a0Paris…" || !b.busy.Visible() {
		t.Errorf("banner %q busy %v", b.title.Text, b.busy.Visible())
	}
	if !strings.Contains(b.detail.Text, "switching to Site\u00a02\u00a0·\u00a0Lyon in 28 s") {
		t.Errorf("banner detail %q", b.detail.Text)
	}
}

// BC-20: the switchover's progress, then its outcome for a while.
func TestSwitchoverProgressAndOutcome(t *testing.T) {
	st := sampleCountdown()
	st.Countdowns = nil
	st.Phase, st.Site = continuity.SwitchingOver, 2
	started := at(-time.Second)
	st.Timelines = append(st.Timelines, continuity.Timeline{Kind: "switchover", Trigger: "telephony service lost", From: 1, To: 2, Started: started,
		Steps: []continuity.Step{{At: started.Add(200 * time.Millisecond), Name: "authenticated"}, {At: started.Add(500 * time.Millisecond), Name: "register DN 7002"}}})
	f := newFake(st)
	u := newTestUI(t, f)
	b := u.main.banner
	// The banner says why the agent is moved, with the progress.
	if b.title.Text != "Switching to Site\u00a02\u00a0·\u00a0Lyon…" || b.detail.Text != "Why: telephony service lost. Step 2: register DN 7002" || !b.busy.Visible() {
		t.Errorf("banner %q / %q busy %v", b.title.Text, b.detail.Text, b.busy.Visible())
	}
	st.Phase = continuity.LoggedIn
	last := &st.Timelines[len(st.Timelines)-1]
	last.Finished = started.Add(1250 * time.Millisecond)
	f.set(st)
	if want := "Now working at Site\u00a02\u00a0·\u00a0Lyon: switchover done in 1.2 s"; b.title.Text != want || b.busy.Visible() {
		t.Errorf("banner %q busy %v, want %q", b.title.Text, b.busy.Visible(), want)
	}
	// After the switchover too.
	if want := "Why: telephony service lost. Your state was restored at the new site."; b.detail.Text != want {
		t.Errorf("banner detail %q, want %q", b.detail.Text, want)
	}
	u.opts.Now = func() time.Time { return last.Finished.Add(outcomeShownFor + time.Second) }
	u.redrawClock()
	if b.box.Visible() {
		t.Errorf("the outcome is still shown after %s", outcomeShownFor)
	}
}

func TestFailedSwitchoverBanner(t *testing.T) {
	st := sampleReady()
	st.Timelines = append(st.Timelines, continuity.Timeline{Kind: "switchover", From: 1, To: 2,
		Started: at(-5 * time.Second), Finished: at(-4 * time.Second), Err: "site 2: connection refused"})
	u := newTestUI(t, newFake(st))
	b := u.main.banner
	if b.title.Text != "Switchover to Site\u00a02\u00a0·\u00a0Lyon failed" || b.detail.Text != "site 2: connection refused" || b.spec.kind != bannerError {
		t.Errorf("banner %q / %q kind %v", b.title.Text, b.detail.Text, b.spec.kind)
	}
}

// BC-22: no site can be reached; the agent sees when the next attempt is.
func TestWaitingBanner(t *testing.T) {
	st := sampleReady()
	st.Phase = continuity.Waiting
	st.Countdowns = []core.Countdown{{What: "next attempt", At: at(4 * time.Second)}}
	f := newFake(sampleReady())
	u := newTestUI(t, f)
	f.set(st)
	if u.win.Content() != u.main.content {
		t.Fatal("the main view closed while waiting for a site")
	}
	if want := "No site can be reached: next attempt in 4 s"; u.main.banner.title.Text != want {
		t.Errorf("banner %q, want %q", u.main.banner.title.Text, want)
	}
}

// BC-14, BC-15: configuration and statistic losses are warnings, with no
// switchover announced.
func TestServiceWarnings(t *testing.T) {
	st := sampleReady()
	st.Sites[0].Configuration = core.ServiceOff
	st.Sites[0].Statistic = core.ServiceOff
	u := newTestUI(t, newFake(st))
	if u.main.banner.box.Visible() {
		t.Errorf("a continuity banner is shown for CONFIG/STAT loss: %q", u.main.banner.title.Text)
	}
	if n := len(u.main.warnings.Objects); n != 2 {
		t.Fatalf("%d warnings, want 2", n)
	}
	markup := canvasText(u.win.Canvas())
	for _, want := range []string{"Configuration service unavailable at Site\u00a01\u00a0·\u00a0Paris", "Statistic service unavailable at Site\u00a01\u00a0·\u00a0Paris"} {
		if !strings.Contains(markup, want) {
			t.Errorf("warning %q not shown", want)
		}
	}
	if strings.Contains(markup, "switching to") {
		t.Error("a switchover is announced for CONFIG/STAT loss")
	}
	u.b.(*fakeBackend).set(sampleReady())
	if n := len(u.main.warnings.Objects); n != 0 {
		t.Errorf("%d warnings after the services came back", n)
	}
}

func TestTelephonyWarningWithoutSwitchover(t *testing.T) {
	st := sampleReady()
	st.Sites[0].Telephony = core.ServiceOff // site-timeout 0: no countdown (BC-13)
	u := newTestUI(t, newFake(st))
	if n := len(u.main.warnings.Objects); n != 1 {
		t.Fatalf("%d warnings, want the telephony one", n)
	}
	u.b.(*fakeBackend).set(sampleCountdown())
	if n := len(u.main.warnings.Objects); n != 0 {
		t.Errorf("the telephony warning stays beside the countdown banner (%d warnings)", n)
	}
}

// BC-2: one lamp per site for the SIP registration, with its reason.
func TestSiteLamps(t *testing.T) {
	st := sampleCountdown()
	st.Sites[1].SIP = core.Registration{State: "registering"}
	st.Preferred = 2
	u := newTestUI(t, newFake(st))
	s1, s2 := u.main.sites.sites[0], u.main.sites.sites[1]
	for _, tc := range []struct {
		name   string
		l      *lamp
		status lampStatus
		detail string
	}{
		{"site 1 SIP", s1.sip, lampFault, "Failed: 503 Service Unavailable"},
		{"site 2 SIP", s2.sip, lampPending, "Registering…"},
		{"site 1 telephony", s1.telephony, lampFault, "Unavailable"},
		{"site 1 configuration", s1.config, lampOK, "Available"},
		{"site 2 telephony", s2.telephony, lampUnknown, "Not in use"},
	} {
		if tc.l.status != tc.status || tc.l.detail.Text != tc.detail {
			t.Errorf("%s: %v %q, want %v %q", tc.name, tc.l.status, tc.l.detail.Text, tc.status, tc.detail)
		}
	}
	if !s1.current.box.Visible() || s2.current.box.Visible() {
		t.Error("the current site's badge is on the wrong site")
	}
	if s1.preferred.box.Visible() || !s2.preferred.box.Visible() {
		t.Error("the preferred site's badge is on the wrong site")
	}
	if s1.name.Text != "Site\u00a01\u00a0·\u00a0Paris" || s2.name.Text != "Site\u00a02\u00a0·\u00a0Lyon" {
		t.Errorf("site names %q, %q", s1.name.Text, s2.name.Text)
	}
}

// BC-24: going back to the other site is the agent's action.
func TestSwitchSiteButton(t *testing.T) {
	f := newFake(sampleReady())
	u := newTestUI(t, f)
	b := u.main.sites.switchBtn
	if b.Text != "Switch to Site\u00a02\u00a0·\u00a0Lyon" {
		t.Errorf("button %q", b.Text)
	}
	test.Tap(b)
	wantCalls(t, f, "SwitchSite")

	// Never during a call: the button is off while a call is in progress.
	u2 := newTestUI(t, newFake(sampleRinging()))
	if !u2.main.sites.switchBtn.Disabled() {
		t.Error("switch site enabled during a call")
	}
}

func TestDialPad(t *testing.T) {
	f := newFake(sampleReady())
	u := newTestUI(t, dialingBackend{f})
	d := u.main.dial
	if !d.call.Disabled() {
		t.Error("Call is enabled with no number")
	}
	for _, k := range "5#1" {
		test.Tap(d.keys[k])
	}
	test.Tap(d.erase)
	test.Tap(d.keys['*'])
	if d.number.Text != "5#*" {
		t.Errorf("number %q, want 5#*", d.number.Text)
	}
	if d.call.Disabled() {
		t.Fatal("Call is disabled with a number")
	}
	test.Tap(d.call)
	wantCalls(t, f, "Dial(5#*)")
}

func TestDialPadWithoutCalling(t *testing.T) {
	u := newTestUI(t, newFake(sampleReady()))
	d := u.main.dial
	test.Type(d.number, "5551234")
	if !d.call.Disabled() {
		t.Error("Call is enabled although the backend cannot place calls")
	}
	if d.note.Text != "Calling is not available in this version." || !d.note.Visible() {
		t.Errorf("note %q shown %v", d.note.Text, d.note.Visible())
	}
}

func TestTimelinesAndNotices(t *testing.T) {
	u := newTestUI(t, newFake(sampleReady()))
	markup := canvasText(u.win.Canvas())
	if !strings.Contains(markup, "Site\u00a01\u00a0·\u00a0Paris: logged in at site 1") {
		t.Error("notices not shown")
	}
	u.main.activity.tabs.Select(u.main.activity.timelinesTab)
	markup = canvasText(u.win.Canvas())
	for _, want := range []string{
		"Switchover from Site\u00a01\u00a0·\u00a0Paris to Site\u00a02\u00a0·\u00a0Lyon (telephony service lost for 30 s): done in 1.3 s",
		"authenticated +200 ms · register DN 7002 +700 ms · restore Ready +1.3 s",
		"Switchover from Site\u00a02\u00a0·\u00a0Lyon to Site\u00a01\u00a0·\u00a0Paris (requested by the agent): done in 1.1 s",
	} {
		if !strings.Contains(markup, want) {
			t.Errorf("timeline %q not shown", want)
		}
	}
	// Newest first.
	if i, j := strings.Index(markup, "from Site\u00a02\u00a0·\u00a0Lyon to Site\u00a01"), strings.Index(markup, "from Site\u00a01\u00a0·\u00a0Paris to Site\u00a02"); i < 0 || j < 0 || i > j {
		t.Error("timelines are not newest first")
	}
}

func TestTesterMenu(t *testing.T) {
	f := newFake(sampleReady())
	u := newTestUI(t, f)
	if menus := u.win.MainMenu().Items; len(menus) != 2 || menus[1].Label != "Call" {
		t.Fatal("the tester menu shows without the setting")
	}
	form := u.settingsForm()
	tester := form.Items[1].Widget.(interface{ SetChecked(bool) })
	tester.SetChecked(true)
	menus := u.win.MainMenu().Items
	if len(menus) != 3 || menus[2].Label != "Tester" {
		t.Fatalf("menus %v", menus)
	}
	for _, it := range menus[2].Items {
		if it.Action != nil {
			it.Action()
		}
	}
	wantCalls(t, f, "ExpireRegistration(1)", "ExpireRegistration(2)", "Relaunch(1)", "SwitchSite")
	if !u.app.Preferences().Bool(prefTester) {
		t.Error("the setting was not saved")
	}
}

func TestThemeSetting(t *testing.T) {
	u := newTestUI(t, newFake(sampleReady()))
	form := u.settingsForm()
	radio := form.Items[0].Widget.(interface{ SetSelected(string) })
	radio.SetSelected("Dark")
	if got := u.app.Preferences().String(prefTheme); got != themeDark {
		t.Errorf("theme preference %q", got)
	}
	th := u.app.Settings().Theme()
	if th.Color(theme.ColorNameBackground, theme.VariantLight) != theme.DefaultTheme().Color(theme.ColorNameBackground, theme.VariantDark) {
		t.Error("the dark theme is not applied")
	}
	radio.SetSelected("Light")
	th = u.app.Settings().Theme()
	if th.Color(theme.ColorNameBackground, theme.VariantDark) != theme.DefaultTheme().Color(theme.ColorNameBackground, theme.VariantLight) {
		t.Error("the light theme is not applied")
	}
}

func TestCloseQuitsGracefully(t *testing.T) {
	f := newFake(sampleReady())
	u := newTestUI(t, f)
	u.quit()
	u.quit() // closing again while quitting
	wantCalls(t, f, "Quit")
}

func TestStopEndsSubscription(t *testing.T) {
	f := newFake(sampleReady())
	u := newTestUI(t, f)
	u.Stop()
	st := sampleReady()
	st.Statistic.Value = 99
	f.set(st)
	if u.main.agent.statVal.Text == "99" {
		t.Error("rendered a State after Stop")
	}
}

// The main view fits the window's default size in its busiest state, so
// that nothing is cut; its minimum size is the window's.
func TestMainViewFitsTheWindow(t *testing.T) {
	st := sampleCountdown()
	st.Sites[0].Configuration, st.Sites[0].Statistic = core.ServiceOff, core.ServiceOff
	u := newTestUI(t, newFake(st))
	min := u.main.content.MinSize()
	def := defaultWindowSize
	if min.Width > def.Width || min.Height > def.Height {
		t.Errorf("the main view needs %v, more than the default window %v", min, def)
	}
	if min.Width < 900 || min.Height < 560 {
		t.Errorf("the main view may shrink to %v: cramped", min)
	}
	t.Logf("main view minimum size %v", min)
}

func TestLoginAfterLogoutKeepsUser(t *testing.T) {
	f := newFake(sampleReady())
	u := newTestUI(t, f)
	u.login.user.SetText("")
	st := sampleReady()
	st.Phase = continuity.LoggedOut
	f.set(st)
	if u.login.user.Text != "alice" {
		t.Errorf("user field %q after logout, want alice", u.login.user.Text)
	}
}

func TestIconDecodes(t *testing.T) {
	if b := iconImage().Bounds(); b.Dx() != 512 || b.Dy() != 512 {
		t.Errorf("the embedded icon is %v, want 512×512", b)
	}
}
