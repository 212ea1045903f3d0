package tsim

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/tandem-softphone/tandem/link"
	"github.com/tandem-softphone/tandem/wire"
)

// agentStats is what the Stat Server reads about one agent for the current day.
type agentStats struct {
	day      time.Time     // local midnight of the day counted
	loggedIn time.Duration // finished sessions of that day
	calls    int64         // calls handled that day
}

func midnight(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, t.Location())
}

// today returns the agent's statistics of now's day, started afresh at
// midnight; s.mu is held.
func (s *Server) today(agentID string, now time.Time) *agentStats {
	day := midnight(now)
	st := s.stats[agentID]
	if st == nil || !st.day.Equal(day) {
		st = &agentStats{day: day}
		s.stats[agentID] = st
	}
	return st
}

// remove logs the agent out of the state and counts its session; s.mu is held.
func (s *Server) remove(a *agent) {
	delete(s.agents, a.dn)
	now := s.opts.Now()
	day := midnight(now)
	st := s.today(a.id, now)
	from := a.loginAt
	if from.Before(day) {
		from = day
	}
	if now.After(from) {
		st.loggedIn += now.Sub(from)
	}
}

// forceLogout logs an agent out with a reason code that the desktop acts on
// (BC-17..BC-19); the code goes in both Extensions and Reasons; s.mu is held.
func (s *Server) forceLogout(a *agent, reasonCode string) {
	s.log.Info("agent logged out by the server", "agent", a.id, "dn", a.dn, "reason", reasonCode)
	s.remove(a)
	rc := wire.KVList{}.Add(wire.AttrReasonCode, reasonCode)
	s.emit(a.dn, wire.Message{Name: wire.EventAgentLogout, Attrs: wire.KVList{}.
		Add(wire.AttrThisDN, a.dn).
		Add(wire.AttrAgentID, a.id).
		Add(wire.AttrExtensions, rc).
		Add(wire.AttrReasons, rc)})
}

// SetDNInService records whether dn's phone is registered at this site, as
// the site's SIP registrar reports it. A DN going out of service gets
// EventDNOutOfService and, if an agent is logged in there, EventAgentLogout
// with ReasonCode dr-force_logout (BC-18); coming back gives
// EventDNBackInService. reason (the registrar's) goes in the event's
// Extensions as "Reason". DNs start out of service.
func (s *Server) SetDNInService(dn string, inService bool, reason string) error {
	if !s.knownDN(dn) {
		return fmt.Errorf("site %d DN %s: %w", s.opts.Site, dn, ErrUnknownDN)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inService[dn] == inService {
		return nil
	}
	s.inService[dn] = inService
	attrs := wire.KVList{}.Add(wire.AttrThisDN, dn)
	if reason != "" {
		attrs = attrs.Add(wire.AttrExtensions, wire.KVList{}.Add("Reason", reason))
	}
	if inService {
		s.emit(dn, wire.Message{Name: wire.EventDNBackInService, Attrs: attrs})
		return nil
	}
	s.emit(dn, wire.Message{Name: wire.EventDNOutOfService, Attrs: attrs})
	if a := s.agents[dn]; a != nil {
		s.forceLogout(a, wire.ReasonDRForceLogout)
	}
	return nil
}

// SetDNBusy is the hook of a call layer: a DN is busy while it has a call.
// During a graceful shutdown an agent on a call stays logged in, and is
// logged out when the DN stops being busy (BC-19).
func (s *Server) SetDNBusy(dn string, busy bool) error {
	if !s.knownDN(dn) {
		return fmt.Errorf("site %d DN %s: %w", s.opts.Site, dn, ErrUnknownDN)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	was := s.busy[dn]
	s.busy[dn] = busy
	if was && !busy && s.shuttingDown {
		if a := s.agents[dn]; a != nil {
			s.forceLogout(a, wire.ReasonGracefulShutdownLogout)
		}
	}
	return nil
}

// CallHandled counts a call the agent handled, for CallsHandledToday. The
// call layer calls it when an answered call of the agent ends.
func (s *Server) CallHandled(agentID string) error {
	if _, ok := s.opts.Dir.PersonByAgentID(agentID); !ok {
		return fmt.Errorf("site %d: call handled by agent %s: %w", s.opts.Site, agentID, ErrUnknownAgent)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.today(agentID, s.opts.Now()).calls++
	return nil
}

// AgentDN returns the DN the agent is logged in at, if it is logged in at
// this site: where the site delivers the agent's calls.
func (s *Server) AgentDN(agentID string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for dn, a := range s.agents {
		if a.id == agentID {
			return dn, true
		}
	}
	return "", false
}

// ForceLogout is a supervisor's logout: EventAgentLogout with reasonCode
// (BC-17).
func (s *Server) ForceLogout(agentID, reasonCode string) error {
	if reasonCode == "" {
		return errors.New("force logout: a reason code is required (without one the logout looks like the agent's own)")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.agents {
		if a.id == agentID {
			s.forceLogout(a, reasonCode)
			return nil
		}
	}
	return fmt.Errorf("agent %s at site %d: %w", agentID, s.opts.Site, ErrNotLoggedIn)
}

// GracefulShutdown starts a graceful shutdown of the site: every agent is
// logged out with ReasonCode graceful_shutdown_logout (BC-19), an agent on a
// call at the end of the call (see SetDNBusy), and new logins are refused
// until Resume.
func (s *Server) GracefulShutdown() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log.Info("graceful shutdown", "agents", len(s.agents))
	s.shuttingDown = true
	for _, dn := range slices.Sorted(maps.Keys(s.agents)) {
		if !s.busy[dn] {
			s.forceLogout(s.agents[dn], wire.ReasonGracefulShutdownLogout)
		}
	}
}

// Resume ends a graceful shutdown: logins are accepted again.
func (s *Server) Resume() {
	s.mu.Lock()
	s.shuttingDown = false
	s.mu.Unlock()
}

// ShuttingDown reports whether a graceful shutdown is under way.
func (s *Server) ShuttingDown() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.shuttingDown
}

// AgentStat is the Stat Server's value getter: wire.StatCallsHandledToday or
// wire.StatLoginTimeToday (seconds) of a configured agent. ok is false for an
// unknown agent or statistic.
func (s *Server) AgentStat(agentID, statType string) (int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.agentStat(agentID, statType)
}

func (s *Server) agentStat(agentID, statType string) (int64, bool) {
	if statType != wire.StatCallsHandledToday && statType != wire.StatLoginTimeToday {
		return 0, false
	}
	if _, ok := s.opts.Dir.PersonByAgentID(agentID); !ok {
		return 0, false
	}
	now := s.opts.Now()
	day := midnight(now)
	if statType == wire.StatCallsHandledToday {
		if st := s.stats[agentID]; st != nil && st.day.Equal(day) {
			return st.calls, true
		}
		return 0, true
	}
	var total time.Duration
	if st := s.stats[agentID]; st != nil && st.day.Equal(day) {
		total = st.loggedIn
	}
	for _, a := range s.agents {
		if a.id != agentID {
			continue
		}
		from := a.loginAt
		if from.Before(day) {
			from = day
		}
		if now.After(from) {
			total += now.Sub(from)
		}
	}
	return int64(total / time.Second), true
}

// Snapshot is the T-Server's state for the simulator's status.
type Snapshot struct {
	ShuttingDown bool                `json:"shutting_down"`
	Members      []link.MemberStatus `json:"members"`
	DNs          []DNState           `json:"dns"`
	Agents       []AgentState        `json:"agents"`
}

// DNState is one DN of the site.
type DNState struct {
	DN        string `json:"dn"`
	InService bool   `json:"in_service"`
	Busy      bool   `json:"busy,omitempty"`
	Links     int    `json:"links"` // T-Server links that registered it
	AgentID   string `json:"agent_id,omitempty"`
}

// AgentState is an agent logged in at the site.
type AgentState struct {
	AgentID    string    `json:"agent_id"`
	DN         string    `json:"dn"`
	Place      string    `json:"place"`
	State      string    `json:"state"`
	WorkMode   int64     `json:"work_mode"`
	ReasonCode string    `json:"reason_code,omitempty"`
	LoginTime  time.Time `json:"login_time"`
}

// Snapshot returns the current state.
func (s *Server) Snapshot() Snapshot {
	dns := s.opts.Dir.DNs(s.opts.Site)
	snap := Snapshot{Members: s.pair.Members()}
	s.mu.Lock()
	defer s.mu.Unlock()
	snap.ShuttingDown = s.shuttingDown
	for _, d := range dns {
		dn := d.Number
		st := DNState{DN: dn, InService: s.inService[dn], Busy: s.busy[dn], Links: len(s.regs[dn])}
		if a := s.agents[dn]; a != nil {
			st.AgentID = a.id
		}
		snap.DNs = append(snap.DNs, st)
	}
	for _, dn := range slices.Sorted(maps.Keys(s.agents)) {
		a := s.agents[dn]
		snap.Agents = append(snap.Agents, AgentState{
			AgentID:    a.id,
			DN:         a.dn,
			Place:      a.place,
			State:      a.state,
			WorkMode:   a.workMode,
			ReasonCode: a.reasons.String(wire.AttrReasonCode),
			LoginTime:  a.loginAt,
		})
	}
	return snap
}
