package gui

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/tandem-softphone/tandem/continuity"
	"github.com/tandem-softphone/tandem/core"
	"github.com/tandem-softphone/tandem/sipua"
	"github.com/tandem-softphone/tandem/wire"
)

// testNow is the clock of every test: the samples' times are around it.
var testNow = time.Date(2026, 3, 2, 14, 30, 0, 0, time.UTC)

// fakeBackend records the intents it gets and serves a State that the test
// sets. Its subscribers are called in place, on the test's goroutine.
type fakeBackend struct {
	mu    sync.Mutex
	st    core.State
	subs  map[int]func(core.State)
	next  int
	calls []string
	// err is what every intent returns; login, what Login returns and the
	// State it leaves.
	err      error
	loginErr error
	loginSt  *core.State
}

func newFake(st core.State) *fakeBackend {
	return &fakeBackend{st: st, subs: map[int]func(core.State){}}
}

func (f *fakeBackend) Snapshot() core.State {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.st
}

func (f *fakeBackend) Subscribe(fn func(core.State)) func() {
	f.mu.Lock()
	id := f.next
	f.next++
	f.subs[id] = fn
	st := f.st
	f.mu.Unlock()
	fn(st)
	return func() {
		f.mu.Lock()
		delete(f.subs, id)
		f.mu.Unlock()
	}
}

// set changes the State and tells the subscribers.
func (f *fakeBackend) set(st core.State) {
	f.mu.Lock()
	f.st = st
	subs := make([]func(core.State), 0, len(f.subs))
	for _, fn := range f.subs {
		subs = append(subs, fn)
	}
	f.mu.Unlock()
	for _, fn := range subs {
		fn(st)
	}
}

func (f *fakeBackend) record(format string, args ...any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
	return f.err
}

func (f *fakeBackend) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fakeBackend) Login(_ context.Context, user, password string, site int) error {
	if site == 0 {
		f.record("Login(%s,%s)", user, password)
	} else {
		f.record("Login(%s,%s,site %d)", user, password, site)
	}
	if f.loginSt != nil {
		f.set(*f.loginSt)
	}
	return f.loginErr
}
func (f *fakeBackend) Ready(context.Context) error { return f.record("Ready") }
func (f *fakeBackend) NotReady(_ context.Context, reason string) error {
	return f.record("NotReady(%s)", reason)
}
func (f *fakeBackend) AfterCallWork(context.Context) error { return f.record("AfterCallWork") }

// Logout logs the agent out, as the core does: the phase moves to LoggedOut.
func (f *fakeBackend) Logout(context.Context) error {
	if err := f.record("Logout"); err != nil {
		return err
	}
	st := f.Snapshot()
	st.Phase, st.Agent.State = continuity.LoggedOut, wire.StateLoggedOut
	f.set(st)
	return nil
}
func (f *fakeBackend) SwitchSite() error { return f.record("SwitchSite") }
func (f *fakeBackend) ExpireRegistration(site int) error {
	return f.record("ExpireRegistration(%d)", site)
}
func (f *fakeBackend) Relaunch(site int) error    { return f.record("Relaunch(%d)", site) }
func (f *fakeBackend) Quit(context.Context) error { return f.record("Quit") }
func (f *fakeBackend) Answer(id string) error     { return f.record("Answer(%s)", id) }
func (f *fakeBackend) Reject(id string) error     { return f.record("Reject(%s)", id) }
func (f *fakeBackend) Hangup(id string) error     { return f.record("Hangup(%s)", id) }
func (f *fakeBackend) Hold(id string) error       { return f.record("Hold(%s)", id) }
func (f *fakeBackend) Resume(id string) error     { return f.record("Resume(%s)", id) }
func (f *fakeBackend) Mute(id string, on bool) error {
	return f.record("Mute(%s,%v)", id, on)
}
func (f *fakeBackend) SendDTMF(id, digits string) error {
	return f.record("SendDTMF(%s,%s)", id, digits)
}
func (f *fakeBackend) Transfer(id, target string) error {
	return f.record("Transfer(%s,%s)", id, target)
}
func (f *fakeBackend) AttendedTransfer(id, consultID string) error {
	return f.record("AttendedTransfer(%s,%s)", id, consultID)
}

// RestoreSavedCalls and DiscardSavedCalls take the offer out of the
// State, as the core does, also when they fail.
func (f *fakeBackend) RestoreSavedCalls() error {
	return f.takeSaved("RestoreSavedCalls")
}
func (f *fakeBackend) DiscardSavedCalls() error {
	return f.takeSaved("DiscardSavedCalls")
}

func (f *fakeBackend) takeSaved(name string) error {
	err := f.record("%s", name)
	st := f.Snapshot()
	st.SavedCalls = nil
	f.set(st)
	return err
}

// dialingBackend is a backend that can also place calls.
type dialingBackend struct{ *fakeBackend }

func (d dialingBackend) Dial(_ context.Context, number string) error {
	return d.record("Dial(%s)", number)
}

var errRefused = errors.New("refused by the T-Server")

// testApp is the test driver's application, shared by the tests: a new one
// per test would measure every text again (some 0.5 s a test under -race).
var (
	testApp     fyne.App
	testAppOnce sync.Once
)

// freshApp is the shared test application with the preferences of a first
// run.
func freshApp(t *testing.T) fyne.App {
	t.Helper()
	testAppOnce.Do(func() { testApp = test.NewApp() })
	fyne.SetCurrentApp(testApp)
	for _, k := range []string{prefTheme, prefTester, prefLastUser, prefSite} {
		testApp.Preferences().RemoveValue(k)
	}
	return testApp
}

// newTestUI builds the GUI on a test app, with intents run in place and no
// ticker, on the sample clock.
func newTestUI(t *testing.T, b Backend) *UI {
	t.Helper()
	return newTestUIWith(t, b, nil)
}

// newTestUIWith is newTestUI with options edited first.
func newTestUIWith(t *testing.T, b Backend, edit func(*Options)) *UI {
	t.Helper()
	a := freshApp(t)
	opts := Options{Now: func() time.Time { return testNow }, Logger: slog.New(slog.DiscardHandler)}
	if edit != nil {
		edit(&opts)
	}
	u := New(a, b, opts)
	u.async = func(f func()) { f() }
	u.tick = 0
	u.Start()
	t.Cleanup(u.Stop)
	t.Cleanup(u.win.Close)
	return u
}

// wantCalls checks the intents a backend got.
func wantCalls(t *testing.T, f *fakeBackend, want ...string) {
	t.Helper()
	got := f.Calls()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("intents: got %q, want %q", got, want)
	}
}

func at(d time.Duration) time.Time { return testNow.Add(d) }

// sampleIdle is the State before any login.
func sampleIdle() core.State {
	st := core.State{User: "alice", Statistic: core.Statistic{Name: wire.StatCallsHandledToday}}
	st.Sites[0].Name = "Paris"
	st.Sites[1].Name = "Lyon"
	return st
}

// sampleReady is an agent Ready at its preferred site 1, registered at both
// sites, after one switchover back and forth earlier in the day.
func sampleReady() core.State {
	st := sampleIdle()
	st.Phase = continuity.LoggedIn
	st.Site, st.Preferred = 1, 1
	st.Agent = core.Agent{ID: "1001", DN: "7001", Place: "Place_7001", State: wire.StateReady}
	st.Sites[0].SIP = core.Registration{State: "registered", Code: 200, Reason: "OK"}
	st.Sites[1].SIP = core.Registration{State: "registered", Code: 200, Reason: "OK"}
	st.Sites[0].Telephony, st.Sites[0].Configuration, st.Sites[0].Statistic = core.ServiceOn, core.ServiceOn, core.ServiceOn
	st.Statistic.Value, st.Statistic.Known, st.Statistic.Site = 12, true, 1
	st.Notices = []core.Notice{
		{Seq: 1, At: at(-2 * time.Hour), Level: continuity.Info, Site: 1, Text: "logged in at site 1"},
		{Seq: 2, At: at(-90 * time.Minute), Level: continuity.Alarm, Site: 1, Text: "telephony service is unavailable"},
		{Seq: 3, At: at(-90*time.Minute + 31*time.Second), Level: continuity.Info, Site: 2, Text: "logged in at site 2"},
		{Seq: 4, At: at(-20 * time.Minute), Level: continuity.Info, Site: 1, Text: "logged in at site 1"},
	}
	sw := at(-90*time.Minute + 30*time.Second)
	back := at(-20*time.Minute - 2*time.Second)
	st.Timelines = []continuity.Timeline{
		{Kind: "login", Trigger: "start", To: 1, Started: at(-2 * time.Hour), Finished: at(-2*time.Hour + 900*time.Millisecond),
			Steps: []continuity.Step{{At: at(-2*time.Hour + 100*time.Millisecond), Name: "authenticated"}, {At: at(-2*time.Hour + 900*time.Millisecond), Name: "agent login"}}},
		{Kind: "switchover", Trigger: "telephony service lost for 30 s", From: 1, To: 2, Started: sw, Finished: sw.Add(1300 * time.Millisecond),
			Steps: []continuity.Step{{At: sw.Add(200 * time.Millisecond), Name: "authenticated"}, {At: sw.Add(700 * time.Millisecond), Name: "register DN 7002"}, {At: sw.Add(1300 * time.Millisecond), Name: "restore Ready"}}},
		{Kind: "switchover", Trigger: "requested by the agent", From: 2, To: 1, Started: back, Finished: back.Add(1100 * time.Millisecond),
			Steps: []continuity.Step{{At: back.Add(300 * time.Millisecond), Name: "authenticated"}, {At: back.Add(1100 * time.Millisecond), Name: "restore Ready"}}},
	}
	return st
}

// sampleCountdown: site 1's telephony service is down and a switchover to
// site 2 is planned in 23 s (BC-13).
func sampleCountdown() core.State {
	st := sampleReady()
	st.Sites[0].Telephony = core.ServiceOff
	st.Sites[0].SIP = core.Registration{State: "failed", Code: 503, Reason: "Service Unavailable"}
	st.Notices = append(st.Notices, core.Notice{Seq: 5, At: at(-7 * time.Second), Level: continuity.Alarm, Site: 1, Text: "telephony service is unavailable"})
	st.Countdowns = []core.Countdown{{What: "switchover", At: at(23 * time.Second)}}
	return st
}

// sampleSaved is sampleReady after a start that found a call an earlier
// run left connected (BC-30).
func sampleSaved() core.State {
	st := sampleReady()
	st.SavedCalls = []core.SavedCall{{ID: "c1", Site: 1, Direction: sipua.Incoming, Peer: "sip:+33142000001@paris.example",
		PeerName: "Claire Martin", Since: at(-12 * time.Minute), SavedAt: at(-10 * time.Minute)}}
	return st
}

// text collects the texts a canvas shows, for assertions that do not
// depend on pixels.
func canvasText(c fyne.Canvas) string { return test.RenderToMarkup(c) }
