package core

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/tandem-softphone/tandem/continuity"
	"github.com/tandem-softphone/tandem/link"
	"github.com/tandem-softphone/tandem/tserver"
	"github.com/tandem-softphone/tandem/wire"
)

// authWait is the outcome of a Login intent's authentication: the first
// Config Server that accepted the user, the refusal, or every site
// unreachable (BC-9).
type authWait struct {
	once   sync.Once
	ch     chan error
	mu     sync.Mutex
	failed [2]bool
}

func (a *authWait) resolve(err error) {
	a.once.Do(func() { a.ch <- err })
}

// siteFailed notes that a site's Config Server could not be reached, and
// resolves the wait once neither could; it reports whether that is so.
func (a *authWait) siteFailed(site int, err error) bool {
	a.mu.Lock()
	a.failed[site-1] = true
	both := a.failed[0] && a.failed[1]
	a.mu.Unlock()
	if both {
		a.resolve(fmt.Errorf("%w (last: %w); retrying", ErrUnreachable, err))
	}
	return both
}

// Login logs the agent in (BC-9..BC-12). It returns once a Config Server
// accepted the user name and password; the T-Server login follows in the
// background and shows in the State. It fails with ErrAuth when the
// password is wrong, with ErrUnreachable when neither site answered (the core
// keeps trying, BC-22), and with ErrBusy when a login is already under way
// or done. An empty user takes the configured one.
//
// site is the agent's choice: 0 starts at the cached preferred site and moves
// to the Person's preferred one (BC-10, BC-11); 1 or 2 starts at that site
// and stays at the site that accepts the login (the other one when it cannot
// be reached, BC-9), with no move to the preferred site.
func (c *Core) Login(ctx context.Context, user, password string, site int) error {
	if site < 0 || site > 2 {
		return fmt.Errorf("login: no site %d (0: preferred, 1 or 2)", site)
	}
	c.opMu.Lock()
	if c.closing.Load() || c.ctx == nil {
		c.opMu.Unlock()
		return ErrClosed
	}
	c.mu.Lock()
	run := c.eng
	c.mu.Unlock()
	if run != nil {
		if ph, _ := run.e.Phase(); ph != continuity.Idle && ph != continuity.LoggedOut {
			c.opMu.Unlock()
			return fmt.Errorf("%w (%s)", ErrBusy, ph)
		}
		c.stopEngine()
	}
	if user == "" {
		user = c.cfg.UserName
	}
	if user == "" {
		c.opMu.Unlock()
		return errors.New("login: no user name given nor configured")
	}
	aw := &authWait{ch: make(chan error, 1)}
	c.mu.Lock()
	if c.user != user {
		c.havePerson = false // another agent at this desk: nothing of the last one is reused
	}
	c.user, c.password = user, password
	c.loginSite = site
	c.auth = aw
	c.st.User = user
	c.st.LoginError = LoginError{}
	c.mu.Unlock()
	start := site
	if start == 0 && !c.cfg.HotSeating {
		start = c.cache.load(user) // BC-11
	}
	c.log.Info("login", "user", user, "start_site", start)
	run = c.startEngine(start)
	run.e.Post(continuity.Start{})
	c.opMu.Unlock()
	c.publish()

	select {
	case err := <-aw.ch:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-c.done:
		return ErrClosed
	}
}

// loginFailed records why a login failed, for the State.
func (c *Core) loginFailed(kind ErrorKind, err error) {
	c.mu.Lock()
	c.st.LoginError = LoginError{Kind: kind, Text: err.Error(), At: time.Now()}
	c.mu.Unlock()
	c.publish()
}

// Logout logs the agent out at the current site (BC-16) and closes the
// site's sessions; the SIP endpoint stays registered. A continuity action
// in flight (a switchover, a re-login) is stopped first, so that it cannot
// log the agent in again behind the logout.
func (c *Core) Logout(ctx context.Context) error {
	c.opMu.Lock()
	defer c.opMu.Unlock()
	if c.closing.Load() {
		return ErrClosed
	}
	c.stopEngine()
	return c.logoutAndTeardown(ctx)
}

// logoutAndTeardown logs the agent out if it is logged in, then closes the
// current sessions; opMu is held and the engine stopped.
func (c *Core) logoutAndTeardown(ctx context.Context) error {
	c.mu.Lock()
	s := c.cur
	c.mu.Unlock()
	if s == nil {
		return nil
	}
	var err error
	if ts, _ := s.clients(); ts != nil && s.isLoggedIn() {
		err = ts.AgentLogout(ctx, c.dn(s.site))
	}
	c.teardown(ctx, s, false)
	return err
}

// agentRequest runs a T-Server request for the agent at the current site.
func (c *Core) agentRequest(do func(ts *tserver.Client, dn string) error) error {
	if c.closing.Load() {
		return ErrClosed
	}
	c.mu.Lock()
	s, run := c.cur, c.eng
	c.mu.Unlock()
	if run == nil || s == nil {
		return ErrNotLoggedIn
	}
	ts, _ := s.clients()
	if ts == nil {
		return ErrNotLoggedIn
	}
	if ph, _ := run.e.Phase(); ph != continuity.LoggedIn {
		return fmt.Errorf("%w (%s)", ErrNotLoggedIn, ph)
	}
	if ts.Status() != link.On {
		return fmt.Errorf("%w: site %d telephony service is off", ErrNotLoggedIn, s.site)
	}
	return do(ts, c.dn(s.site))
}

// Ready makes the agent Ready.
func (c *Core) Ready(ctx context.Context) error {
	return c.agentRequest(func(ts *tserver.Client, dn string) error { return ts.AgentReady(ctx, dn) })
}

// NotReady makes the agent NotReady with a reason code (may be empty).
func (c *Core) NotReady(ctx context.Context, reason string) error {
	return c.agentRequest(func(ts *tserver.Client, dn string) error {
		return ts.AgentNotReady(ctx, dn, wire.WorkModeAuxWork, reason)
	})
}

// AfterCallWork puts the agent in after-call work.
func (c *Core) AfterCallWork(ctx context.Context) error {
	return c.agentRequest(func(ts *tserver.Client, dn string) error {
		return ts.AgentNotReady(ctx, dn, wire.WorkModeAfterCallWork, "")
	})
}

// SwitchSite asks to move to the other site (BC-24). The engine refuses
// when the agent is not logged in or is on a call, with a notice.
func (c *Core) SwitchSite() error {
	c.mu.Lock()
	run := c.eng
	c.mu.Unlock()
	if run == nil || c.closing.Load() {
		return ErrNotLoggedIn
	}
	c.post(continuity.SwitchRequested{})
	return nil
}

// ExpireRegistration stops refreshing the endpoint's registration at a site,
// so that it expires at the registrar: the tester's way to make the site's
// SIP Server send dr-force_logout (BC-18).
func (c *Core) ExpireRegistration(site int) error {
	ep, err := c.endpoint(site)
	if err != nil {
		return err
	}
	if err := ep.ExpireRegistration(siteName(site)); err != nil {
		return fmt.Errorf("expire registration at site %d: %w", site, err)
	}
	c.notify(continuity.Info, site, fmt.Sprintf("tester: the registration at site %d is left to expire", site))
	return nil
}

// Relaunch re-launches the SIP endpoint at once, keeping its calls (the
// tester's action; the engine's own re-launch is BC-18's).
func (c *Core) Relaunch(site int) error {
	if _, err := c.endpoint(site); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), relaunchTimeout)
	defer cancel()
	if err := c.relaunch(ctx, site); err != nil {
		return err
	}
	c.notify(continuity.Info, site, fmt.Sprintf("tester: SIP endpoint re-launched at site %d", site))
	return nil
}
