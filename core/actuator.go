package core

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tandem-softphone/tandem/confserv"
	"github.com/tandem-softphone/tandem/continuity"
	"github.com/tandem-softphone/tandem/link"
)

// actuator is the core as the engine's continuity.Actuator. It is a type of
// its own because the core's intents have the same names (Login, Relaunch)
// with other meanings.
type actuator struct{ c *Core }

var _ continuity.Actuator = actuator{}

// Connect tears down whatever session is left, then reaches the site's
// Config Server and reads the Person and the application options (BC-9,
// BC-10). The first success starts the SIP endpoint.
func (a actuator) Connect(ctx context.Context, site int, step func(string)) (int, error) {
	c := a.c
	c.refresh()
	c.mu.Lock()
	old, aw := c.cur, c.auth
	c.mu.Unlock()
	c.teardown(ctx, old, true)
	pref, err := c.connect(ctx, site, step)
	if err != nil {
		switch {
		case errors.Is(err, confserv.ErrAuth):
			c.authRefused(err)
			aw.resolve(err)
		case errors.Is(err, confserv.ErrUnknownApplication):
			c.loginFailed(ErrorUnknownApplication, err)
			aw.siteFailed(site, err)
		default:
			if aw.siteFailed(site, err) {
				c.loginFailed(ErrorUnreachable, err)
			}
		}
		return 0, err
	}
	aw.resolve(nil)
	c.mu.Lock()
	c.st.LoginError = LoginError{} // a Config Server accepted the login
	chosen := c.loginSite
	c.mu.Unlock()
	if chosen != 0 {
		// The agent chose a site at login: it stays where it got in, with
		// no move to the Person's preferred site.
		return site, nil
	}
	return pref, nil
}

// authRefused stops the engine's attempts: retrying a wrong password cannot
// succeed and may lock the account. The agent types it again.
func (c *Core) authRefused(err error) {
	c.loginFailed(ErrorAuth, err)
	c.post(continuity.LogoutRequested{})
}

// connect opens the site's Config Server session and reads the
// configuration. On failure the session is closed again.
func (c *Core) connect(ctx context.Context, site int, step func(string)) (int, error) {
	s := c.newSession(site)
	step(fmt.Sprintf("site %d config server", site))
	c.setCurrent(s)
	s.start()
	if _, err := s.conf.Authenticated(ctx); err != nil {
		c.teardown(ctx, s, false)
		return 0, fmt.Errorf("site %d config server: %w", site, err)
	}
	step("authenticated")
	pref, err := c.readConfig(ctx, s, step)
	if err != nil {
		c.teardown(ctx, s, false)
		return 0, err
	}
	s.armConfig()
	return pref, nil
}

// readConfig reads the Person, the applications of both sites and the DNs,
// passes the timeouts to the engine and starts the SIP endpoint if it is not
// yet (BC-10). It returns the preferred site (0: the Person names none).
func (c *Core) readConfig(ctx context.Context, s *session, step func(string)) (int, error) {
	c.mu.Lock()
	user := c.user
	c.mu.Unlock()
	p, err := s.conf.Person(ctx, user)
	if err != nil {
		return 0, fmt.Errorf("site %d: %w", s.site, err)
	}
	step("person read")
	pref := c.preferredSite(p)
	var apps [2]confserv.Application
	var haveApp [2]bool
	for i := range apps {
		name := c.cfg.Sites[i].Application
		app, err := s.conf.Application(ctx, name)
		if err != nil {
			// The other site's connections are only needed when the local
			// configuration lacks them; its options never are.
			if i+1 == s.site {
				return 0, fmt.Errorf("site %d: %w", s.site, err)
			}
			c.log.Warn("application of the other site not read", "site", i+1, "application", name, "err", err)
			continue
		}
		apps[i], haveApp[i] = app, true
	}
	step("applications read")
	c.mu.Lock()
	c.person, c.havePerson = p, true
	for i := range apps {
		if haveApp[i] {
			c.apps[i] = apps[i]
		}
	}
	c.st.Agent.ID = p.AgentID
	if pref != 0 {
		c.st.Preferred = pref
	}
	c.mu.Unlock()
	c.setTimeouts(p, apps, haveApp, pref, s.site)
	if err := c.resolveDNs(ctx, s); err != nil {
		return 0, err
	}
	if err := c.startEndpoint(ctx, s, step); err != nil {
		return 0, err
	}
	if pref != 0 && !c.cfg.HotSeating {
		if err := c.cache.store(user, pref); err != nil {
			c.log.Warn("preferred site not cached", "err", err)
		}
	}
	return pref, nil
}

// preferredSite maps the Person's site-1 application name to a site number
// through the local configuration (BC-8, BC-10).
func (c *Core) preferredSite(p confserv.Person) int {
	first, _ := p.PreferredSites()
	if first == "" {
		return 0
	}
	for i, s := range c.cfg.Sites {
		if strings.EqualFold(s.Application, first) {
			return i + 1
		}
	}
	c.log.Warn("the person's preferred site names no configured application", "user", p.UserName, "site-1", first)
	return 0
}

// setTimeouts passes site-timeout and site-sip-register-timeout to the
// engine: those of the preferred site's application (BC-10), or of the
// connected site's when the Person prefers none. The Person's
// disaster-recovery.timeout (BC-8) overrides site-timeout: it is the agent's own.
func (c *Core) setTimeouts(p confserv.Person, apps [2]confserv.Application, have [2]bool, pref, site int) {
	from := pref
	if from == 0 || !have[from-1] {
		from = site
	}
	a := apps[from-1]
	siteTimeout, sipTimeout := a.SiteTimeout(), a.SIPRegisterTimeout()
	if d, ok := p.SiteTimeout(); ok {
		siteTimeout = d
	}
	c.mu.Lock()
	run := c.eng
	c.mu.Unlock()
	if run != nil {
		run.e.SetTimeouts(siteTimeout, sipTimeout)
	}
	c.log.Info("continuity timeouts", "application", a.Name, "site_timeout", siteTimeout, "sip_register_timeout", sipTimeout)
}

// Login logs the agent in at the site (BC-12), restoring state (BC-23).
func (a actuator) Login(ctx context.Context, site int, state continuity.AgentState, step func(string)) error {
	a.c.refresh()
	return a.c.login(ctx, site, state, step)
}

// Switchover tears the current site's sessions down and logs in at the
// other site (BC-20); the SIP endpoint keeps both registrations.
func (a actuator) Switchover(ctx context.Context, from, to int, state continuity.AgentState, step func(string)) error {
	c := a.c
	c.refresh()
	c.mu.Lock()
	old := c.cur
	c.mu.Unlock()
	// The notices say why the agent is moved: the timeline's trigger
	// (graceful shutdown, telephony lost, phone not registered again).
	// A retry's alarm has already said why (BC-22).
	if why := c.switchoverTrigger(); why != "" && why != "retry" {
		c.notify(continuity.Info, from, fmt.Sprintf("moving to site %d (%s)", to, why))
	}
	step(fmt.Sprintf("tear down site %d", from))
	c.teardown(ctx, old, true)
	if _, err := c.connect(ctx, to, step); err != nil {
		if errors.Is(err, confserv.ErrAuth) {
			c.authRefused(err)
			return err
		}
		if ctx.Err() != nil || !c.canContinue(to) {
			return err
		}
		// The Config Server being down never moves the agent (BC-14), nor
		// does it keep the agent from a site whose telephony works: what
		// it would say was read at the last connect.
		c.notify(continuity.Warning, to, fmt.Sprintf("site %d: %v; logging in with the configuration read before", to, err))
		step("config server unavailable: configuration read before")
		s := c.newSession(to)
		c.setCurrent(s)
		s.armConfig()
		s.start()
		c.onStatus(s, continuity.Configuration, link.Off)
	}
	return c.login(ctx, to, state, step)
}

// switchoverTrigger is why the switchover under way began, as its
// timeline says; "" when the timeline under way is not a switchover's (the
// move to the preferred site at startup is a step of the login's).
func (c *Core) switchoverTrigger() string {
	c.mu.Lock()
	run := c.eng
	c.mu.Unlock()
	if run == nil {
		return ""
	}
	ts := run.e.Timelines()
	if n := len(ts); n > 0 && ts[n-1].Kind == "switchover" && ts[n-1].Finished.IsZero() {
		return ts[n-1].Trigger
	}
	return ""
}

// canContinue reports whether a login at site can do without its Config
// Server: the agent and the site's connections are known.
func (c *Core) canContinue(site int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.havePerson && c.dns[site-1] != "" && c.ep != nil
}

// Relaunch re-launches the SIP endpoint (BC-18): it stores its connected
// calls, starts afresh on the same ports, registers at both sites again and
// restores the calls, so that no call is dropped (BC-30).
func (a actuator) Relaunch(ctx context.Context, site int, step func(string)) error {
	a.c.refresh()
	step("store calls, restart the endpoint, REGISTER at both sites")
	return a.c.relaunch(ctx, site)
}

// relaunchTimeout bounds a re-launch asked for by a tester.
const relaunchTimeout = 30 * time.Second

func (c *Core) relaunch(ctx context.Context, site int) error {
	ep, err := c.endpoint(site)
	if err != nil {
		return err
	}
	if err := ep.Relaunch(ctx); err != nil {
		return fmt.Errorf("re-launch for site %d: %w", site, err)
	}
	return nil
}

// Notify shows the engine's notice.
func (a actuator) Notify(n continuity.ActNotify) {
	a.c.notify(n.Level, n.Site, n.Text)
	a.c.refresh()
}

// Countdown shows (or, at zero time, removes) when a step happens.
func (a actuator) Countdown(what string, at time.Time) {
	c := a.c
	c.mu.Lock()
	kept := c.st.Countdowns[:0]
	for _, cd := range c.st.Countdowns {
		if cd.What != what {
			kept = append(kept, cd)
		}
	}
	if !at.IsZero() {
		kept = append(kept, Countdown{What: what, At: at})
	}
	c.st.Countdowns = kept
	c.mu.Unlock()
	c.refresh()
	c.publish()
}
