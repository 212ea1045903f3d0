package core

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tandem-softphone/tandem/config"
	"github.com/tandem-softphone/tandem/confserv"
	"github.com/tandem-softphone/tandem/continuity"
	"github.com/tandem-softphone/tandem/link"
	"github.com/tandem-softphone/tandem/statserv"
	"github.com/tandem-softphone/tandem/tserver"
	"github.com/tandem-softphone/tandem/wire"
)

// session is the desktop's sessions with one site's services: Config
// Server, T-Server and Stat Server (BC-20 tears them down together). Only
// the current session's events count; a session being torn down says nothing.
type session struct {
	site    int
	ctx     context.Context // ends at teardown: the statistic's opening loop
	cancel  context.CancelFunc
	conf    *confserv.Client
	closing atomic.Bool

	mu        sync.Mutex
	ts        *tserver.Client // set by the first login at the site
	stat      *statserv.Client
	inService bool          // the DN's phone is registered at this site
	back      chan struct{} // closed when inService turns true
	loggedIn  bool          // the agent is logged in here
	confArmed bool          // configuration status goes to the engine (after the first connect)
	posted    [3]bool       // per continuity.Service: the status the engine was last told is OFF
}

// newSession prepares the sessions with a site; its Config Server client
// starts with start, once the session is current.
func (c *Core) newSession(site int) *session {
	ctx, cancel := context.WithCancel(c.ctx)
	s := &session{site: site, ctx: ctx, cancel: cancel, back: make(chan struct{})}
	sc := c.cfg.Sites[site-1]
	c.mu.Lock()
	user, pw := c.user, c.password
	c.mu.Unlock()
	s.conf = confserv.New(confserv.Options{
		Name:           siteName(site),
		Primary:        sc.ConfigServer.Primary.String(),
		Backup:         sc.ConfigServer.Backup.String(),
		Link:           c.linkOptions(site),
		UserName:       user,
		Password:       pw,
		Application:    sc.Application,
		RequestTimeout: c.opts.RequestTimeout,
		MinBackoff:     c.opts.LinkMinBackoff,
		MaxBackoff:     c.opts.LinkMaxBackoff,
		OnStatus:       func(st link.Status) { c.onStatus(s, continuity.Configuration, st) },
	})
	return s
}

func (s *session) start() { s.conf.Start(s.ctx) }

func (c *Core) setCurrent(s *session) {
	c.mu.Lock()
	c.cur = s
	c.st.Agent.DN = c.dns[s.site-1]
	c.st.Agent.Place = c.cfg.Sites[s.site-1].Place
	c.mu.Unlock()
	c.publish()
}

// isCurrent tells whether s's events count.
func (c *Core) isCurrent(s *session) bool {
	if s.closing.Load() {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cur == s
}

func (c *Core) linkOptions(site int) link.Options {
	return link.Options{
		AppName:         c.cfg.Sites[site-1].Application,
		KeepAlive:       c.cfg.KeepAlive.Local,
		RemoteKeepAlive: c.cfg.KeepAlive.Remote,
		TLS:             c.tls,
		Logger:          c.log,
	}
}

// armConfig lets the configuration status reach the engine from now on:
// before the first connect succeeded, a failure is the connect's own (BC-9).
func (s *session) armConfig() {
	s.mu.Lock()
	s.confArmed = true
	s.mu.Unlock()
}

// clients returns the T-Server and Stat Server clients, nil before the login.
func (s *session) clients() (*tserver.Client, *statserv.Client) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ts, s.stat
}

// onStatus records a service's status and tells the engine of changes. The
// first ON of a session is no change: the service was never OFF.
func (c *Core) onStatus(s *session, svc continuity.Service, st link.Status) {
	if !c.isCurrent(s) {
		return
	}
	v := ServiceOff
	if st == link.On {
		v = ServiceOn
	}
	c.mu.Lock()
	site := &c.st.Sites[s.site-1]
	switch svc {
	case continuity.Telephony:
		site.Telephony = v
	case continuity.Configuration:
		site.Configuration = v
	case continuity.Statistic:
		site.Statistic = v
	}
	c.mu.Unlock()
	c.publish()
	s.mu.Lock()
	off := st == link.Off
	tell := s.posted[svc] != off && (svc != continuity.Configuration || s.confArmed)
	if tell {
		s.posted[svc] = off
	}
	s.mu.Unlock()
	if tell {
		c.post(continuity.ServiceChanged{Site: s.site, Service: svc, On: !off})
	}
}

func (s *session) setInService(v bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v == s.inService {
		return
	}
	s.inService = v
	if v {
		close(s.back)
	} else {
		s.back = make(chan struct{})
	}
}

// waitInService waits until the DN's phone is registered at the site.
func (s *session) waitInService(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	back := s.back
	s.mu.Unlock()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-back:
		return nil
	case <-t.C:
		return fmt.Errorf("the phone did not register at site %d within %v", s.site, d)
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *session) isLoggedIn() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.loggedIn
}

func (s *session) setLoggedIn(v bool) {
	s.mu.Lock()
	s.loggedIn = v
	s.mu.Unlock()
}

// teardown closes a session's clients (BC-20). With logout, an agent still
// logged in there is logged out first (a manual switch, BC-24), so that it
// is never logged in at two sites.
func (c *Core) teardown(ctx context.Context, s *session, logout bool) {
	if s == nil {
		return
	}
	s.closing.Store(true)
	ts, stat := s.clients()
	if logout && ts != nil && s.isLoggedIn() && ts.Status() == link.On {
		lctx, cancel := context.WithTimeout(ctx, c.opts.RequestTimeout)
		if err := ts.AgentLogout(lctx, c.dn(s.site)); err != nil {
			c.log.Warn("logout at the site left", "site", s.site, "err", err)
		}
		cancel()
	}
	s.cancel()
	if stat != nil {
		stat.Close()
	}
	if ts != nil {
		ts.Close()
	}
	if s.conf != nil {
		s.conf.Close()
	}
	c.mu.Lock()
	if c.cur == s {
		c.cur = nil
	}
	st := &c.st.Sites[s.site-1]
	st.Telephony, st.Configuration, st.Statistic = ServiceNone, ServiceNone, ServiceNone
	if c.st.Agent.State != "" {
		c.st.Agent.State, c.st.Agent.Reason = wire.StateLoggedOut, ""
	}
	c.mu.Unlock()
	c.publish()
}

func (c *Core) dn(site int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dns[site-1]
}

// pair returns the addresses of a service at a site: the local
// configuration's, else the application's connection of that type.
func (c *Core) pair(site int, local config.Pair, connType string) (primary, backup string) {
	if !local.Primary.IsZero() {
		return local.Primary.String(), local.Backup.String()
	}
	c.mu.Lock()
	conn, ok := c.apps[site-1].Connection(connType)
	c.mu.Unlock()
	if !ok {
		return "", ""
	}
	return conn.Primary, conn.Backup
}

// login connects the site's T-Server (if not yet), registers the DN, logs
// the agent in at the site's Place and restores its state (BC-12, BC-23).
func (c *Core) login(ctx context.Context, site int, state continuity.AgentState, step func(string)) error {
	c.mu.Lock()
	s, agentID := c.cur, c.person.AgentID
	c.mu.Unlock()
	if s == nil || s.site != site {
		return fmt.Errorf("login at site %d: no session with the site", site)
	}
	dn, place := c.dn(site), c.cfg.Sites[site-1].Place
	if dn == "" {
		return fmt.Errorf("login at site %d: no DN", site)
	}
	ts, stat := s.clients()
	if ts == nil {
		primary, backup := c.pair(site, c.cfg.Sites[site-1].TServer, wire.ConnTypeTServer)
		if primary == "" {
			return fmt.Errorf("login at site %d: no T-Server address, neither configured nor in the application's connections", site)
		}
		step(fmt.Sprintf("site %d T-Server", site))
		ts = tserver.New(tserver.Options{
			Name:           siteName(site),
			Primary:        primary,
			Backup:         backup,
			Link:           c.linkOptions(site),
			RequestTimeout: c.opts.RequestTimeout,
			MinBackoff:     c.opts.LinkMinBackoff,
			MaxBackoff:     c.opts.LinkMaxBackoff,
			OnEvent:        func(e tserver.Event) { c.onTServer(s, e) },
		})
		s.mu.Lock()
		s.ts = ts
		s.mu.Unlock()
		ts.Start(s.ctx)
	}
	step("register DN " + dn)
	info, err := ts.RegisterAddress(ctx, dn)
	if err != nil {
		return fmt.Errorf("login at site %d: %w", site, err)
	}
	current := info.State
	if info.AgentID == agentID && info.State != wire.StateLoggedOut {
		// Logged in already (the desktop restarted, or a link came back):
		// keep that login and only restore the state.
		step("agent already logged in")
	} else {
		if !info.InService {
			step("wait for the phone to register")
			if err := s.waitInService(ctx, c.opts.DNWait); err != nil {
				return fmt.Errorf("login at site %d: %w", site, err)
			}
		}
		step("agent login")
		li, err := ts.AgentLogin(ctx, tserver.Login{DN: dn, Place: place, AgentID: agentID, WorkMode: wire.WorkModeManualIn})
		if err != nil {
			return fmt.Errorf("login at site %d: %w", site, err)
		}
		current = li.State
	}
	s.setLoggedIn(true)
	c.restore(ctx, s.site, ts, dn, current, state, step)
	if stat == nil {
		c.startStat(s, agentID)
	}
	return nil
}

// restore brings the agent back to the state it had (BC-23). A failure is
// a warning, not a failed login: the agent is logged in.
func (c *Core) restore(ctx context.Context, site int, ts *tserver.Client, dn, current string, want continuity.AgentState, step func(string)) {
	var err error
	switch want.Kind {
	case wire.StateReady:
		if current == wire.StateReady {
			return
		}
		step("restore Ready")
		err = ts.AgentReady(ctx, dn)
	case wire.StateNotReady:
		if current == wire.StateNotReady && want.Reason == "" {
			return
		}
		step("restore NotReady " + want.Reason)
		err = ts.AgentNotReady(ctx, dn, wire.WorkModeAuxWork, want.Reason)
	case wire.StateAfterCallWork:
		step("restore AfterCallWork")
		err = ts.AgentNotReady(ctx, dn, wire.WorkModeAfterCallWork, "")
	default:
		return
	}
	if err != nil {
		c.notify(continuity.Warning, site, fmt.Sprintf("site %d: could not restore %s: %v", site, want.Kind, err))
	}
}

// onTServer handles the T-Server's events: the telephony service status
// (BC-13), and the DN's and the agent's events (BC-16..BC-19, BC-23).
func (c *Core) onTServer(s *session, e tserver.Event) {
	if !c.isCurrent(s) {
		return
	}
	switch e.Name {
	case tserver.EventLinkConnected:
		c.onStatus(s, continuity.Telephony, link.On)
		return
	case tserver.EventLinkDisconnected:
		c.onStatus(s, continuity.Telephony, link.Off)
		return
	}
	c.mu.Lock()
	ours := e.DN == c.dns[s.site-1]
	agentID := c.person.AgentID
	c.mu.Unlock()
	if !ours {
		return
	}
	switch e.Name {
	case wire.EventDNBackInService:
		s.setInService(true)
		c.post(continuity.DNBackInService{Site: s.site})
		return
	case wire.EventDNOutOfService:
		s.setInService(false)
		return
	case wire.EventRegistered, wire.EventAddressInfo:
		s.setInService(e.Msg.Attrs.String(wire.AttrDNStatus) != wire.DNStatusOutOfService)
		if e.AgentID != agentID && e.State != wire.StateLoggedOut {
			return // another agent at the DN: not ours to show
		}
	case wire.EventAgentLogin, wire.EventAgentReady, wire.EventAgentNotReady:
		if e.AgentID != "" && e.AgentID != agentID {
			return
		}
	case wire.EventAgentLogout:
		s.setLoggedIn(false)
		c.setAgent(wire.StateLoggedOut, e.ReasonCode)
		c.post(continuity.AgentLoggedOut{Site: s.site, ReasonCode: e.ReasonCode})
		return
	default:
		return
	}
	if e.State == "" {
		return
	}
	s.setLoggedIn(e.State != wire.StateLoggedOut)
	reason := ""
	if e.State == wire.StateNotReady {
		reason = e.ReasonCode
	}
	c.setAgent(e.State, reason)
	c.post(continuity.AgentStateChanged{State: continuity.AgentState{Kind: e.State, Reason: reason}})
}

func (c *Core) setAgent(state, reason string) {
	c.mu.Lock()
	c.st.Agent.State, c.st.Agent.Reason = state, reason
	c.mu.Unlock()
	c.publish()
}

// startStat opens the statistic shown to the agent. The Stat Server is
// optional: without one, there is no statistic (BC-1); its being OFF only
// warns (BC-15).
func (c *Core) startStat(s *session, agentID string) {
	primary, backup := c.pair(s.site, c.cfg.Sites[s.site-1].StatServer, wire.ConnTypeStatServer)
	if primary == "" {
		return
	}
	stat := statserv.New(statserv.Options{
		Name:           siteName(s.site),
		Primary:        primary,
		Backup:         backup,
		Link:           c.linkOptions(s.site),
		RequestTimeout: c.opts.RequestTimeout,
		MinBackoff:     c.opts.LinkMinBackoff,
		MaxBackoff:     c.opts.LinkMaxBackoff,
		OnStatus:       func(st link.Status) { c.onStatus(s, continuity.Statistic, st) },
		OnValue: func(v statserv.Value) {
			if !c.isCurrent(s) {
				return
			}
			c.mu.Lock()
			c.st.Statistic = Statistic{Name: v.Type, Value: v.Value, Known: true, Site: s.site}
			c.mu.Unlock()
			c.publish()
		},
	})
	s.mu.Lock()
	s.stat = stat
	s.mu.Unlock()
	stat.Start(s.ctx)
	go c.openStat(s, stat, agentID)
}

// openStat opens the statistic, again after each failure until the session
// ends: a statistic that fails to open is not opened again by the client.
func (c *Core) openStat(s *session, stat *statserv.Client, agentID string) {
	wait := c.opts.LinkMinBackoff
	if wait <= 0 {
		wait = 200 * time.Millisecond
	}
	for {
		_, err := stat.Open(s.ctx, c.opts.Statistic, agentID)
		switch {
		case err == nil:
			return
		case s.ctx.Err() != nil:
			return
		case errors.Is(err, statserv.ErrUnknownStatistic):
			c.notify(continuity.Warning, s.site, fmt.Sprintf("site %d: %v", s.site, err))
			return
		}
		c.log.Debug("statistic not opened yet", "site", s.site, "err", err, "retry_in", wait)
		select {
		case <-s.ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(wait*2, 10*time.Second)
	}
}
