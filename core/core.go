// Package core is Tandem's application core: one object that ties the local
// configuration, the site-services clients (Config Server, T-Server, Stat
// Server), the embedded SIP endpoint and the continuity engine together. The
// GUI and the headless mode both drive it the same way: they read its State
// (Snapshot, Subscribe) and hand it the agent's intents (Login, Ready,
// NotReady, Logout, SwitchSite, …).
//
// The continuity engine decides (BC-9..BC-24); the core carries its actions
// out (actuator.go) and feeds it the clients' events (session.go): telephony
// EventLinkConnected/Disconnected, configuration and statistic status,
// EventAgentLogout with its ReasonCode, EventDNBackInService and the agent's
// state. Only the current site's sessions exist, so only its events reach
// the engine; the SIP endpoint (endpoint.go) is the exception: it is started
// after the first successful Config Server login, with the DNs' SIP
// passwords read from the Config Server, and stays registered at both sites
// until Quit (BC-2, BC-20).
//
// The calls (calls.go) come from the endpoint's events; while connected
// they are saved in Options.StateDir so that a crash does not lose them,
// and the next start offers them back (savedcalls.go, BC-30), with the
// call history (history.go).
package core

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tandem-softphone/tandem/config"
	"github.com/tandem-softphone/tandem/confserv"
	"github.com/tandem-softphone/tandem/continuity"
	"github.com/tandem-softphone/tandem/sipua"
	"github.com/tandem-softphone/tandem/wire"
)

// Errors of the intents, for callers to test with errors.Is.
var (
	// ErrAuth: the Config Server refused the user name or the password.
	ErrAuth = confserv.ErrAuth
	// ErrUnreachable: no site's Config Server answered; the core keeps
	// trying in the background (BC-22).
	ErrUnreachable = errors.New("no site reachable")
	// ErrNotLoggedIn: the intent needs the agent logged in at a site.
	ErrNotLoggedIn = errors.New("not logged in")
	// ErrBusy: a login is already under way or done; log out first.
	ErrBusy = errors.New("already logged in or logging in")
	// ErrNoEndpoint: the SIP endpoint starts with the first login.
	ErrNoEndpoint = errors.New("the SIP endpoint is not started yet")
	// ErrClosed: the core was closed.
	ErrClosed = errors.New("core closed")
)

// Options configure a Core. Zero durations take the defaults noted.
type Options struct {
	// Config is the local provisioning of both sites (required).
	Config *config.Config
	Logger *slog.Logger
	// Clock is the continuity engine's clock (default the system clock).
	Clock continuity.Clock
	// MinBackoff and MaxBackoff bound the wait between attempts when no
	// site can be reached (BC-22; defaults 1 s and 30 s).
	MinBackoff, MaxBackoff time.Duration
	// LinkMinBackoff and LinkMaxBackoff bound the reconnect attempts within
	// an HA pair (defaults of package link: 200 ms and 10 s).
	LinkMinBackoff, LinkMaxBackoff time.Duration
	// RequestTimeout bounds one request to a site service (default 10 s).
	RequestTimeout time.Duration
	// DNWait is how long a login waits for the DN's phone to be registered
	// at the site, when it is not yet (default 15 s).
	DNWait time.Duration
	// Endpoint is the template of the SIP endpoint's options: the core sets
	// Accounts and OnEvent, Logger and TLSRootCAs when they are nil, and
	// InstanceID when it is empty and StateDir is set (kept there).
	Endpoint sipua.Options
	// SIPExpires is the registration interval asked of the registrars
	// (default sipua.DefaultExpires).
	SIPExpires time.Duration
	// PreferredSiteCache is the file that remembers each user's preferred
	// site, so that the next start begins there (BC-11); empty: no cache.
	// It is not used with hot seating.
	PreferredSiteCache string
	// Statistic is the Stat Server statistic shown (default CallsHandledToday).
	Statistic string
	// MaxNotices bounds State.Notices (default 200).
	MaxNotices int
	// StateDir is the directory of the user's state: the checkpoints of
	// the connected calls (BC-30, savedcalls.go), the call history and the
	// SIP endpoint's instance ID (instance.go), which lets a start clear
	// the registrar bindings a killed run left. Empty: nothing is kept.
	StateDir string
}

func (o *Options) defaults() error {
	if o.Config == nil {
		return errors.New("core: a configuration is required")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 10 * time.Second
	}
	if o.DNWait <= 0 {
		o.DNWait = 15 * time.Second
	}
	if o.SIPExpires <= 0 {
		o.SIPExpires = sipua.DefaultExpires
	}
	if o.Statistic == "" {
		o.Statistic = wire.StatCallsHandledToday
	}
	if o.MaxNotices <= 0 {
		o.MaxNotices = 200
	}
	return nil
}

// Core is the application core. Create it with New, Start it, and end it with
// Quit (graceful) or Close.
type Core struct {
	opts    Options
	cfg     *config.Config
	log     *slog.Logger
	tls     *tls.Config // site services; nil without TLS
	rootCAs *x509.CertPool
	cache   prefCache

	ctx       context.Context
	cancel    context.CancelFunc
	done      chan struct{}
	closeOnce sync.Once
	closing   atomic.Bool

	// opMu serialises the intents that start or stop the engine (Login,
	// Logout, Quit, Close).
	opMu sync.Mutex

	mu            sync.Mutex
	eng           *engineRun
	cur           *session // the current site's sessions; nil between sites
	ep            *sipua.Endpoint
	user          string
	password      string // for the Config Server of every site; never logged
	loginSite     int    // the site the agent chose at login; 0: the preferred one (BC-10)
	mwi           mwiState
	aud           audioState
	person        confserv.Person
	havePerson    bool
	apps          [2]confserv.Application
	dns           [2]string // the agent's DN at each site (BC-3)
	auth          *authWait
	st            State // the parts that do not come from the engine
	pastTimelines []continuity.Timeline
	subs          map[*subscriber]struct{}
	saved         *saver // the calls' checkpoints and the call history
	seq           uint64 // last Notice.Seq
	seen          engineView
}

// engineRun is one login's engine: a new one per Login intent, so that each
// starts at the cached preferred site of the user logging in (BC-11).
type engineRun struct {
	e      *continuity.Engine
	cancel context.CancelFunc
	done   chan struct{}
}

// engineView is what refresh compares to tell that the engine moved.
type engineView struct {
	phase         continuity.Phase
	site          int
	timelines     int
	finished      int
	steps         int
	haveCountdown bool
}

// New checks the options and prepares a core; Start runs it.
func New(opts Options) (*Core, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	if err := opts.Config.Validate(); err != nil {
		return nil, fmt.Errorf("core: %w", err)
	}
	tc, pool, err := tlsConfig(opts.Config.TLS)
	if err != nil {
		return nil, fmt.Errorf("core: %w", err)
	}
	c := &Core{
		opts:    opts,
		cfg:     opts.Config,
		log:     opts.Logger,
		tls:     tc,
		rootCAs: pool,
		cache:   prefCache{path: opts.PreferredSiteCache},
		done:    make(chan struct{}),
		subs:    map[*subscriber]struct{}{},
		user:    opts.Config.UserName,
	}
	c.st.User = c.user
	c.st.Statistic.Name = opts.Statistic
	for i := range c.st.Sites {
		c.st.Sites[i].Name = c.cfg.Sites[i].Name
	}
	c.loadState()
	return c, nil
}

// tlsConfig builds the TLS settings of the site-service links, and the CA
// pool that the SIP endpoint also trusts.
func tlsConfig(t config.TLS) (*tls.Config, *x509.CertPool, error) {
	var pool *x509.CertPool
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, nil, fmt.Errorf("TLS CA file: %w", err)
		}
		pool = x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, nil, fmt.Errorf("TLS CA file %s: no PEM certificate in it", t.CAFile)
		}
	}
	if !t.Enabled {
		return nil, pool, nil
	}
	return &tls.Config{RootCAs: pool, ServerName: t.ServerName, MinVersion: tls.VersionTLS12}, pool, nil
}

// Start runs the core in the background until ctx ends (then it closes
// itself, as Close does) or until Quit or Close. Call it once.
func (c *Core) Start(ctx context.Context) {
	c.ctx, c.cancel = context.WithCancel(ctx)
	go func() {
		<-c.ctx.Done()
		c.Close()
	}()
}

// Done is closed once the core has stopped.
func (c *Core) Done() <-chan struct{} { return c.done }

// refresh publishes when the engine's phase or timelines moved since the
// last look, or a countdown's time has passed.
func (c *Core) refresh() {
	now := time.Now()
	c.mu.Lock()
	run := c.eng
	var v engineView
	if run != nil {
		v.phase, v.site = run.e.Phase()
		for _, t := range run.e.Timelines() {
			v.timelines++
			v.steps += len(t.Steps)
			if !t.Finished.IsZero() {
				v.finished++
			}
		}
	}
	kept := c.st.Countdowns[:0]
	for _, cd := range c.st.Countdowns {
		if cd.At.After(now) {
			kept = append(kept, cd)
		}
	}
	c.st.Countdowns = kept
	v.haveCountdown = len(kept) > 0
	changed := v != c.seen
	c.seen = v
	c.mu.Unlock()
	if changed {
		c.publish()
	}
}

// Quit ends the run gracefully: the agent is logged out at the current site,
// the sessions are closed and the SIP endpoint un-registers at both sites.
func (c *Core) Quit(ctx context.Context) error {
	c.opMu.Lock()
	defer c.opMu.Unlock()
	if c.closing.Load() {
		return ErrClosed
	}
	c.stopEngine()
	err := c.logoutAndTeardown(ctx)
	c.shutdown()
	return err
}

// Close stops everything at once: no logout (the endpoint still
// un-registers). It is safe to call more than once.
func (c *Core) Close() {
	c.opMu.Lock()
	defer c.opMu.Unlock()
	c.stopEngine()
	c.mu.Lock()
	s := c.cur
	c.mu.Unlock()
	c.teardown(context.Background(), s, false)
	c.shutdown()
}

// shutdown closes the endpoint and ends the core; opMu is held.
func (c *Core) shutdown() {
	c.closeOnce.Do(func() {
		c.closing.Store(true)
		c.mu.Lock()
		ep := c.ep
		c.mu.Unlock()
		if ep != nil {
			if err := ep.Close(); err != nil {
				c.log.Warn("SIP endpoint close", "err", err)
			}
		}
		c.updateRinging() // closing: the ringtone stops
		c.saved.close()
		if c.cancel != nil {
			c.cancel()
		}
		c.publish()
		close(c.done)
		c.log.Info("core stopped")
	})
}

// startEngine starts a new engine for a login; opMu is held.
func (c *Core) startEngine(startSite int) *engineRun {
	ctx, cancel := context.WithCancel(c.ctx)
	e := continuity.NewEngine(continuity.Config{
		MinBackoff: c.opts.MinBackoff,
		MaxBackoff: c.opts.MaxBackoff,
		StartSite:  startSite,
	}, actuator{c}, c.opts.Clock, c.log)
	run := &engineRun{e: e, cancel: cancel, done: make(chan struct{})}
	// The engine says when its phase or timelines moved (a countdown's due
	// time is a Tick of the engine too), so nothing polls it.
	e.SetOnChange(c.refresh)
	go func() {
		defer close(run.done)
		e.Run(ctx)
	}()
	c.mu.Lock()
	c.eng = run
	c.mu.Unlock()
	return run
}

// stopEngine stops the engine and waits for its actions in flight, which
// honour its context; its timelines are kept. opMu is held.
func (c *Core) stopEngine() {
	c.mu.Lock()
	run := c.eng
	c.mu.Unlock()
	if run == nil {
		return
	}
	run.cancel()
	<-run.done
	phase, _ := run.e.Phase()
	timelines := run.e.Timelines()
	now := time.Now()
	for i := range timelines {
		if timelines[i].Finished.IsZero() {
			// Cut short by a logout or the end of the run.
			timelines[i].Finished, timelines[i].Err = now, "stopped"
		}
	}
	c.mu.Lock()
	c.eng = nil
	c.pastTimelines = lastTimelines(c.pastTimelines, timelines)
	c.st.Phase = continuity.LoggedOut
	if phase == continuity.Idle {
		c.st.Phase = continuity.Idle
	}
	c.st.Countdowns = nil
	c.mu.Unlock()
	c.publish()
}

// post hands an event to the running engine, if any.
func (c *Core) post(ev continuity.Event) {
	c.mu.Lock()
	run := c.eng
	c.mu.Unlock()
	if run == nil || c.closing.Load() {
		return
	}
	select {
	case <-run.done:
	default:
		run.e.Post(ev)
	}
}

// notify records a notice and logs it.
func (c *Core) notify(level continuity.Level, site int, text string) {
	now := time.Now()
	c.mu.Lock()
	c.seq++
	c.st.Notices = append(c.st.Notices, Notice{Seq: c.seq, At: now, Level: level, Site: site, Text: text})
	if n := len(c.st.Notices) - c.opts.MaxNotices; n > 0 {
		c.st.Notices = append(c.st.Notices[:0:0], c.st.Notices[n:]...)
	}
	c.mu.Unlock()
	switch level {
	case continuity.Alarm:
		c.log.Error("alarm", "site", site, "text", text)
	case continuity.Warning:
		c.log.Warn("warning", "site", site, "text", text)
	default:
		c.log.Info("notice", "level", level, "site", site, "text", text)
	}
	c.publish()
}

// siteName is the SIP account and client name of a site.
func siteName(site int) string { return fmt.Sprintf("site%d", site) }
