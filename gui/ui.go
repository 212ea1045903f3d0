// Package gui is Tandem's desktop window: it renders the application core's
// State and sends the agent's intents to it. It holds no business logic:
// what to do when a site fails is the core's, how it looks is this
// package's.
package gui

import (
	"context"
	"log/slog"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"

	"github.com/tandem-softphone/tandem/assets"
	"github.com/tandem-softphone/tandem/continuity"
	"github.com/tandem-softphone/tandem/core"
	"github.com/tandem-softphone/tandem/internal/credstore"
)

// AppID is the application's unique id (FyneApp.toml): its preferences are
// kept under it.
const AppID = "io.github.tandem_softphone.tandem"

// DefaultNotReadyReasons are the Not Ready reasons offered when the options
// name none.
var DefaultNotReadyReasons = []string{"Break", "Lunch", "Meeting", "Training", "Coaching"}

// Options configure the GUI. Zero values take the defaults noted.
type Options struct {
	Logger *slog.Logger // default slog.Default()
	// NotReadyReasons are the reason codes an agent picks from for Not
	// Ready (default DefaultNotReadyReasons).
	NotReadyReasons []string
	// IntentTimeout bounds each intent sent to the backend (default 30 s).
	IntentTimeout time.Duration
	// Now is the clock of the countdowns (default time.Now).
	Now func() time.Time
	// Passwords is where the login view remembers the password when the
	// agent asks it to: the OS keyring (credstore.Keyring), never a file.
	// Nil: the login view does not offer it.
	Passwords credstore.Store
}

// Preference keys.
const (
	prefTheme    = "theme"
	prefTester   = "tester-menu"
	prefLastUser = "last-user"  // the user name only: never the password
	prefSite     = "login-site" // 0: the preferred site, 1 or 2
)

// defaultWindowSize is the window's first size: it fits a 1366×768 laptop
// screen with its panels and title bar.
var defaultWindowSize = fyne.NewSize(1120, 740)

// quitTimeout bounds the graceful end when the window closes: the logout
// and the un-REGISTERs must not keep a closed window waiting long.
const quitTimeout = 5 * time.Second

// outcomeShownFor is how long the banner keeps a switchover's outcome.
const outcomeShownFor = 30 * time.Second

// UI is the desktop window and what it shows.
type UI struct {
	app  fyne.App
	win  fyne.Window
	b    Backend
	opts Options
	log  *slog.Logger

	st        core.State // the State last rendered
	session   bool       // logged in, as far as the view goes: the main view shows
	onMain    bool       // the main view is the window's content
	loggingIn bool
	quitting  bool
	// loggedOutByMe: the agent's own Logout, not a supervisor's (BC-16, BC-17).
	loggedOutByMe bool

	login *loginView
	main  *mainView
	// tray is the system tray, on a desktop app; nil elsewhere.
	tray *tray
	// sound is the settings' sound part while they are open.
	sound *audioPanel

	// async runs an intent off the UI goroutine; tests run it in place.
	async func(func())
	// tick is how often the countdowns are redrawn; 0 in tests, which
	// redraw by hand.
	tick   time.Duration
	cancel func()
	done   chan struct{}
}

// New builds the window for a backend. Start connects it to the backend's
// changes; Run does that and shows it.
func New(a fyne.App, b Backend, opts Options) *UI {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if len(opts.NotReadyReasons) == 0 {
		opts.NotReadyReasons = DefaultNotReadyReasons
	}
	if opts.IntentTimeout <= 0 {
		opts.IntentTimeout = 30 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	u := &UI{
		app:   a,
		b:     b,
		opts:  opts,
		log:   opts.Logger,
		async: func(f func()) { go f() },
		tick:  250 * time.Millisecond,
	}
	applyTheme(a, a.Preferences().String(prefTheme))
	u.win = a.NewWindow("Tandem")
	u.win.SetIcon(assets.Icon)
	u.win.SetMaster()
	if da, ok := a.(desktop.App); ok && trayHost() {
		u.tray = &tray{app: da}
	}
	if u.tray != nil {
		// A click on the tray icon brings the window back.
		u.tray.app.SetSystemTrayWindow(u.win)
	}
	u.win.SetCloseIntercept(u.closeWindow)
	u.login = newLoginView(u)
	u.main = newMainView(u)
	u.win.SetContent(u.login.content)
	u.win.SetMainMenu(u.menu())
	u.addShortcuts()
	u.applyAudioPrefs()
	u.win.Resize(defaultWindowSize)
	u.render(b.Snapshot())
	return u
}

// Window is the main window.
func (u *UI) Window() fyne.Window { return u.win }

// Start follows the backend's State: every change is rendered on the UI
// goroutine (fyne.Do), and running countdowns are redrawn as time passes.
func (u *UI) Start() {
	u.login.loadPassword()
	cancel := u.b.Subscribe(func(st core.State) { fyne.Do(func() { u.render(st) }) })
	stop := make(chan struct{})
	u.done = make(chan struct{})
	u.cancel = func() {
		cancel()
		close(stop)
		<-u.done
	}
	go func() {
		defer close(u.done)
		if u.tick <= 0 {
			return
		}
		t := time.NewTicker(u.tick)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				fyne.Do(u.redrawClock)
			}
		}
	}()
}

// Stop ends what Start began.
func (u *UI) Stop() {
	if u.cancel != nil {
		u.cancel()
		u.cancel = nil
	}
}

// Run shows the window and runs the application until it quits.
func (u *UI) Run() {
	u.Start()
	defer u.Stop()
	u.win.ShowAndRun()
}

// render shows a State.
func (u *UI) render(st core.State) {
	prev := u.st.Phase
	u.st = st
	switch st.Phase {
	case continuity.LoggedIn:
		// Also after a login that first found no site and succeeded later
		// in the background (BC-22).
		u.session = true
	case continuity.Idle, continuity.LoggedOut:
		// Only on the move into it: a late snapshot from before the login
		// must not end the session that the login just began.
		if prev != continuity.Idle && prev != continuity.LoggedOut {
			u.session = false
		}
	}
	u.showMain(u.wantMain(st))
	u.login.render(st)
	u.main.render(st, u.opts.Now())
	u.renderTray(st)
}

// wantMain tells whether the State is the main view's.
func (u *UI) wantMain(st core.State) bool {
	switch st.Phase {
	case continuity.LoggingIn, continuity.LoggedIn, continuity.Relaunching, continuity.SwitchingOver:
		return true
	case continuity.Connecting, continuity.Waiting:
		return u.session
	}
	return false
}

func (u *UI) showMain(main bool) {
	if main == u.onMain {
		return
	}
	u.onMain = main
	if main {
		u.win.SetContent(u.main.content)
		return
	}
	u.win.SetContent(u.login.content)
	u.login.password.SetText("")
	if u.login.user.Text == "" {
		u.login.user.SetText(u.st.User)
	}
	u.login.loadPassword()
	u.win.Canvas().Focus(u.login.password)
}

// redrawClock redraws what depends on the time alone: countdowns, the
// fading of a switchover's outcome and the calls' timers.
func (u *UI) redrawClock() {
	if u.onMain {
		now := u.opts.Now()
		u.main.renderBanner(u.st, now)
		u.main.calls.renderClock(now)
		return
	}
	u.login.sites.SetText(loginSitesText(u.st, u.loggingIn, u.opts.Now(), u.login.chosenSite()))
}

// intent runs a backend call off the UI goroutine, bounded by the intent
// timeout, and hands its error to done on the UI goroutine.
func (u *UI) intent(name string, call func(ctx context.Context) error, done func(error)) {
	u.intentWithin(u.opts.IntentTimeout, name, call, done)
}

func (u *UI) intentWithin(timeout time.Duration, name string, call func(ctx context.Context) error, done func(error)) {
	u.log.Debug("intent", "name", name)
	u.async(func() {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		err := call(ctx)
		if err != nil {
			u.log.Warn("intent failed", "name", name, "err", err)
		}
		fyne.Do(func() { done(err) })
	})
}

// quit ends the run gracefully when the window is closed: the core logs the
// agent out and un-registers the endpoint, then the application ends.
func (u *UI) quit() {
	if u.quitting {
		return
	}
	u.quitting = true
	u.intentWithin(quitTimeout, "quit", u.b.Quit, func(error) { u.app.Quit() })
}
