// Package continuity follows the SIP Business Continuity rules (BC-9..BC-24):
// a state machine that takes events (service status, DN events, results of
// its own actions, the agent's intents, the passing of time) and answers with
// actions (connect, log in, switch over, re-launch the endpoint, notify).
// Time comes in with the events, so every rule is tested without waiting.
package continuity

import (
	"fmt"
	"time"

	"github.com/tandem-softphone/tandem/wire"
)

// Config holds the options that drive the machine.
type Config struct {
	// SiteTimeout is site-timeout (BC-7, BC-13): how long the telephony
	// service may stay OFF before a switchover. 0 never switches for it.
	SiteTimeout time.Duration
	// SIPRegisterTimeout is site-sip-register-timeout (BC-7, BC-18): how long
	// to wait for EventDNBackInService after dr-force_logout. 0 never switches for it.
	SIPRegisterTimeout time.Duration
	// MinBackoff and MaxBackoff bound the wait between attempts when no
	// site can be reached (BC-22); defaults 1 s and 30 s.
	MinBackoff, MaxBackoff time.Duration
	// StartSite is the site tried first at startup: the cached preferred
	// site (BC-11), or 0 for site 1.
	StartSite int
}

// Phase is where the machine stands.
type Phase int

// Phases.
const (
	Idle          Phase = iota
	Connecting          // reaching a site's Config Server (BC-9)
	LoggingIn           // logging in at Site (BC-12, or again after BC-18)
	LoggedIn            // logged in at Site: watching it (BC-13..BC-19)
	Relaunching         // dr-force_logout: endpoint re-launched, waiting for the DN (BC-18)
	SwitchingOver       // moving to Site (BC-20)
	Waiting             // no site could be reached: next attempt at a set time (BC-22)
	LoggedOut           // the agent or a supervisor logged out: nothing more (BC-16, BC-17)
)

func (p Phase) String() string {
	return [...]string{"idle", "connecting", "logging-in", "logged-in", "relaunching", "switching-over", "waiting", "logged-out"}[p]
}

// Machine is the continuity state machine. It is not safe for concurrent
// use: one goroutine feeds it (see Engine).
type Machine struct {
	cfg       Config
	phase     Phase
	site      int // the site logged in at, or being moved to
	preferred int
	state     AgentState
	calls     int
	telOff    bool

	switchAt    time.Time // BC-13 deadline
	regDeadline time.Time // BC-18 deadline
	retryAt     time.Time // BC-22 next attempt
	retry       Action    // what to do at retryAt
	backoff     time.Duration
	tried       [2]bool // startup round: whose Config Server failed
}

// New returns an idle machine.
func New(cfg Config) *Machine {
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = time.Second
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(30*time.Second, cfg.MinBackoff)
	}
	return &Machine{cfg: cfg, backoff: cfg.MinBackoff}
}

// Phase reports where the machine stands.
func (m *Machine) Phase() Phase { return m.phase }

// Site is the site logged in at, or being moved to (0 before the first).
func (m *Machine) Site() int { return m.site }

// Preferred is the Person's preferred site, once known.
func (m *Machine) Preferred() int { return m.preferred }

// State is the agent state that a re-login or switchover restores.
func (m *Machine) State() AgentState { return m.state }

// SetTimeouts replaces site-timeout and site-sip-register-timeout, as read
// from the new site's application options; running timers keep their deadline.
func (m *Machine) SetTimeouts(siteTimeout, sipRegisterTimeout time.Duration) {
	m.cfg.SiteTimeout, m.cfg.SIPRegisterTimeout = siteTimeout, sipRegisterTimeout
}

// Deadline is the next time a Tick has something to do.
func (m *Machine) Deadline() (time.Time, bool) {
	var d time.Time
	for _, t := range []time.Time{m.switchAt, m.regDeadline, m.retryAt} {
		if !t.IsZero() && (d.IsZero() || t.Before(d)) {
			d = t
		}
	}
	return d, !d.IsZero()
}

func other(site int) int {
	if site == 1 {
		return 2
	}
	return 1
}

// Handle applies one event at time now and returns the actions to take.
func (m *Machine) Handle(ev Event, now time.Time) []Action {
	switch e := ev.(type) {
	case Start:
		return m.start()
	case ConnectResult:
		return m.connected(e, now)
	case LoginResult:
		return m.loggedIn(e, now)
	case ServiceChanged:
		return m.service(e, now)
	case AgentLoggedOut:
		return m.loggedOut(e, now)
	case DNBackInService:
		return m.dnBack(e)
	case RelaunchResult:
		if e.Err != nil && m.phase == Relaunching {
			return []Action{ActNotify{Level: Alarm, Site: m.site, Text: fmt.Sprintf("re-launching the SIP endpoint failed: %v", e.Err)}}
		}
	case AgentStateChanged:
		if e.State.Kind != "" && e.State.Kind != wire.StateLoggedOut {
			m.state = e.State
		}
	case CallsChanged:
		m.calls = e.Active
	case SwitchRequested:
		return m.manualSwitch()
	case LogoutRequested:
		m.stopTimers()
		m.phase = LoggedOut
	case Tick:
		return m.tick(e.Now)
	}
	return nil
}

func (m *Machine) start() []Action {
	if m.phase != Idle && m.phase != LoggedOut {
		return nil
	}
	m.stopTimers()
	m.tried = [2]bool{}
	m.site = m.cfg.StartSite
	if m.site != 1 && m.site != 2 {
		m.site = 1
	}
	m.phase = Connecting
	return []Action{ActConnect{Site: m.site}}
}

// connected: BC-9 (the other site when one fails) and BC-10 (move to the preferred site).
func (m *Machine) connected(e ConnectResult, now time.Time) []Action {
	if m.phase != Connecting || e.Site != m.site {
		return nil
	}
	if e.Err != nil {
		m.tried[e.Site-1] = true
		if !m.tried[other(e.Site)-1] {
			m.site = other(e.Site)
			return []Action{
				ActNotify{Level: Warning, Site: e.Site, Service: Configuration, Text: fmt.Sprintf("site %d: %v; trying site %d", e.Site, e.Err, m.site)},
				ActConnect{Site: m.site},
			}
		}
		m.tried = [2]bool{}
		return m.wait(now, ActConnect{Site: other(e.Site)}, fmt.Sprintf("no site reachable (last: site %d: %v)", e.Site, e.Err))
	}
	m.preferred = e.Preferred
	if m.preferred != 1 && m.preferred != 2 {
		m.preferred = e.Site
	}
	if m.preferred != e.Site {
		return m.switchTo(e.Site, m.preferred, "the agent's preferred site")
	}
	m.phase = LoggingIn
	return []Action{ActLogin{Site: e.Site, State: m.state}}
}

func (m *Machine) loggedIn(e LoginResult, now time.Time) []Action {
	if (m.phase != LoggingIn && m.phase != SwitchingOver) || e.Site != m.site {
		return nil
	}
	if e.Err != nil {
		// BC-22: the target failed too; alternate with back-off.
		return m.wait(now, ActSwitchover{From: e.Site, To: other(e.Site), Reason: "retry", State: m.state},
			fmt.Sprintf("login at site %d failed: %v", e.Site, e.Err))
	}
	m.phase = LoggedIn
	m.telOff = false
	m.backoff = m.cfg.MinBackoff
	return []Action{ActNotify{Level: Info, Site: e.Site, Text: fmt.Sprintf("logged in at site %d", e.Site)}}
}

// wait schedules the next attempt with capped exponential back-off (BC-22).
func (m *Machine) wait(now time.Time, next Action, why string) []Action {
	m.stopTimers()
	m.phase = Waiting
	m.retry = next
	m.retryAt = now.Add(m.backoff)
	m.backoff = min(m.backoff*2, m.cfg.MaxBackoff)
	return []Action{
		ActNotify{Level: Alarm, Site: m.site, Text: why},
		ActCountdown{What: "next attempt", At: m.retryAt},
	}
}

func (m *Machine) watching() bool { return m.phase == LoggedIn || m.phase == Relaunching }

// service: BC-13 (telephony OFF schedules a switchover, ON cancels it),
// BC-14 and BC-15 (configuration and statistic: warn and alarm, never switch).
func (m *Machine) service(e ServiceChanged, now time.Time) []Action {
	if e.Site != m.site {
		return nil
	}
	name := fmt.Sprintf("site %d %s service", e.Site, e.Service)
	if e.Service != Telephony {
		if e.On {
			return []Action{ActNotify{Level: Cleared, Site: e.Site, Service: e.Service, Text: name + " is back"}}
		}
		return []Action{ActNotify{Level: Alarm, Site: e.Site, Service: e.Service, Text: name + " is unavailable"}}
	}
	m.telOff = !e.On
	if !m.watching() {
		return nil
	}
	if e.On {
		acts := []Action{ActNotify{Level: Cleared, Site: e.Site, Service: Telephony, Text: name + " is back"}}
		if !m.switchAt.IsZero() {
			m.switchAt = time.Time{}
			acts = append(acts, ActCancelCountdown{What: "switchover"})
		}
		return acts
	}
	acts := []Action{ActNotify{Level: Alarm, Site: e.Site, Service: Telephony, Text: name + " is unavailable"}}
	if m.cfg.SiteTimeout > 0 && m.switchAt.IsZero() {
		m.switchAt = now.Add(m.cfg.SiteTimeout)
		acts = append(acts, ActCountdown{What: "switchover", At: m.switchAt})
	}
	return acts
}

// loggedOut: BC-16..BC-19, by ReasonCode.
func (m *Machine) loggedOut(e AgentLoggedOut, now time.Time) []Action {
	if e.Site != m.site || !m.watching() {
		return nil
	}
	switch e.ReasonCode {
	case "":
		m.stopTimers()
		m.phase = LoggedOut
		return nil
	case wire.ReasonGracefulShutdownLogout:
		return m.switchTo(m.site, other(m.site), "graceful shutdown of site "+fmt.Sprint(m.site))
	case wire.ReasonDRForceLogout:
		if m.phase == Relaunching {
			return nil
		}
		m.phase = Relaunching
		acts := []Action{
			ActNotify{Level: Warning, Site: m.site, Text: fmt.Sprintf("site %d: the phone's registration expired; re-launching the SIP endpoint", m.site)},
			ActRelaunch{Site: m.site},
		}
		if m.cfg.SIPRegisterTimeout > 0 {
			m.regDeadline = now.Add(m.cfg.SIPRegisterTimeout)
			acts = append(acts, ActCountdown{What: "switchover", At: m.regDeadline})
		}
		return acts
	default:
		m.stopTimers()
		m.phase = LoggedOut
		return []Action{ActNotify{Level: Warning, Site: m.site, Text: fmt.Sprintf("logged out by a supervisor (%s)", e.ReasonCode)}}
	}
}

// dnBack: BC-18, the endpoint is registered again: log in again with the state the agent had.
func (m *Machine) dnBack(e DNBackInService) []Action {
	if m.phase != Relaunching || e.Site != m.site {
		return nil
	}
	acts := []Action{}
	if !m.regDeadline.IsZero() {
		m.regDeadline = time.Time{}
		acts = append(acts, ActCancelCountdown{What: "switchover"})
	}
	m.phase = LoggingIn
	return append(acts, ActLogin{Site: m.site, State: m.state})
}

// manualSwitch: BC-24, returning to another site is the agent's decision, never during a call.
func (m *Machine) manualSwitch() []Action {
	switch {
	case m.phase != LoggedIn:
		return []Action{ActNotify{Level: Info, Site: m.site, Text: fmt.Sprintf("cannot switch site while %s", m.phase)}}
	case m.calls > 0:
		return []Action{ActNotify{Level: Warning, Site: m.site, Text: "cannot switch site during a call"}}
	}
	return m.switchTo(m.site, other(m.site), "the agent asked")
}

// switchTo starts a switchover (BC-20). Single flight (BC-21): callers only
// get here from a phase that is not SwitchingOver, so triggers that arrive
// during one are absorbed.
func (m *Machine) switchTo(from, to int, reason string) []Action {
	acts := []Action{}
	if !m.switchAt.IsZero() || !m.regDeadline.IsZero() {
		acts = append(acts, ActCancelCountdown{What: "switchover"})
	}
	m.stopTimers()
	m.phase = SwitchingOver
	m.site = to
	return append(acts, ActSwitchover{From: from, To: to, Reason: reason, State: m.state})
}

func (m *Machine) stopTimers() {
	m.switchAt, m.regDeadline, m.retryAt, m.retry = time.Time{}, time.Time{}, time.Time{}, nil
}

func (m *Machine) tick(now time.Time) []Action {
	acts := m.fire(now)
	// A deadline whose phase has passed (a switchover timer of a login that
	// ended otherwise) is dropped, so that Deadline always lies ahead.
	for _, t := range []*time.Time{&m.switchAt, &m.regDeadline, &m.retryAt} {
		if !t.IsZero() && !now.Before(*t) {
			*t = time.Time{}
		}
	}
	return acts
}

func (m *Machine) fire(now time.Time) []Action {
	switch {
	case !m.switchAt.IsZero() && !now.Before(m.switchAt) && m.watching():
		return m.switchTo(m.site, other(m.site), fmt.Sprintf("site %d telephony service unavailable for site-timeout (%v)", m.site, m.cfg.SiteTimeout))
	case !m.regDeadline.IsZero() && !now.Before(m.regDeadline) && m.phase == Relaunching:
		return m.switchTo(m.site, other(m.site), fmt.Sprintf("site %d phone not registered again within site-sip-register-timeout (%v)", m.site, m.cfg.SIPRegisterTimeout))
	case !m.retryAt.IsZero() && !now.Before(m.retryAt) && m.phase == Waiting:
		next := m.retry
		m.retryAt, m.retry = time.Time{}, nil
		switch a := next.(type) {
		case ActConnect:
			m.phase, m.site = Connecting, a.Site
			m.tried = [2]bool{}
			return []Action{a}
		case ActSwitchover:
			return m.switchTo(a.From, a.To, a.Reason)
		}
	}
	return nil
}
