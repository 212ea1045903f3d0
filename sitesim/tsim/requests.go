package tsim

import (
	"fmt"
	"time"

	"github.com/tandem-softphone/tandem/link"
	"github.com/tandem-softphone/tandem/wire"
)

// agent is an agent logged in at one of the site's DNs.
type agent struct {
	id       string
	dn       string
	place    string
	queue    string
	workMode int64
	state    string      // wire.StateReady, StateNotReady, StateAfterCallWork
	reasons  wire.KVList // the NotReady reasons
	loginAt  time.Time
}

// refusal is a request's negative answer.
type refusal struct {
	code int
	msg  string
}

func refuse(code int, format string, args ...any) *refusal {
	return &refusal{code: code, msg: fmt.Sprintf(format, args...)}
}

// dispatch answers one request; s.mu is held. Changes of an agent are also
// sent, with RefID 0, to the other links that registered the DN.
func (s *Server) dispatch(cl *client, req wire.Message) wire.Message {
	var (
		ans wire.Message
		r   *refusal
	)
	switch req.Name {
	case wire.RequestRegisterAddress:
		ans, r = s.register(cl, req)
	case wire.RequestUnregisterAddress:
		ans, r = s.unregister(cl, req)
	case wire.RequestAgentLogin:
		ans, r = s.login(cl, req)
	case wire.RequestAgentReady:
		ans, r = s.ready(cl, req)
	case wire.RequestAgentNotReady:
		ans, r = s.notReady(cl, req)
	case wire.RequestAgentLogout:
		ans, r = s.logout(cl, req)
	case wire.RequestQueryAddress:
		ans, r = s.query(req)
	case wire.RequestPrivateService:
		ans, r = s.private(cl, req)
	default:
		r = refuse(wire.ErrCodeUnknownRequest, "%s is not a T-Server request", req.Name)
	}
	if r != nil {
		return link.ErrorAnswer(req, r.code, r.msg)
	}
	ans.RefID = req.RefID
	return ans
}

// siteDN reads ThisDN and checks that it is a DN of this site.
func (s *Server) siteDN(req wire.Message) (string, *refusal) {
	dn := req.Attrs.String(wire.AttrThisDN)
	if dn == "" {
		return "", refuse(wire.ErrCodeInvalidAttribute, "ThisDN is required")
	}
	if !s.knownDN(dn) {
		return "", refuse(wire.ErrCodeUnknownDN, "DN %s is not configured at site %d", dn, s.opts.Site)
	}
	return dn, nil
}

// registeredDN is siteDN plus: the requesting link registered it.
func (s *Server) registeredDN(cl *client, req wire.Message) (string, *refusal) {
	dn, r := s.siteDN(req)
	if r != nil {
		return "", r
	}
	if !cl.dns[dn] {
		return "", refuse(wire.ErrCodeNotRegistered, "DN %s is not registered on this link: send RequestRegisterAddress first", dn)
	}
	return dn, nil
}

// loggedIn is registeredDN plus: an agent is logged in there.
func (s *Server) loggedIn(cl *client, req wire.Message) (*agent, *refusal) {
	dn, r := s.registeredDN(cl, req)
	if r != nil {
		return nil, r
	}
	a := s.agents[dn]
	if a == nil {
		return nil, refuse(wire.ErrCodeInvalidState, "no agent is logged in at DN %s", dn)
	}
	return a, nil
}

// addressInfo is a DN's state: EventRegistered and EventAddressInfo carry it.
func (s *Server) addressInfo(dn string) wire.KVList {
	l := wire.KVList{}.Add(wire.AttrThisDN, dn)
	if a := s.agents[dn]; a != nil {
		l = l.Add(wire.AttrAgentID, a.id).
			Add(wire.AttrAgentState, a.state).
			Add(wire.AttrAgentWorkMode, a.workMode).
			Add(wire.AttrPlace, a.place)
		if len(a.reasons) > 0 {
			l = l.Add(wire.AttrReasons, a.reasons)
		}
	} else {
		l = l.Add(wire.AttrAgentState, wire.StateLoggedOut)
	}
	status := wire.DNStatusOutOfService
	if s.inService[dn] {
		status = wire.DNStatusInService
	}
	return l.Add(wire.AttrDNStatus, status)
}

func (s *Server) register(cl *client, req wire.Message) (wire.Message, *refusal) {
	dn, r := s.siteDN(req)
	if r != nil {
		return wire.Message{}, r
	}
	cl.dns[dn] = true
	if s.regs[dn] == nil {
		s.regs[dn] = map[*client]bool{}
	}
	s.regs[dn][cl] = true
	return wire.Message{Name: wire.EventRegistered, Attrs: s.addressInfo(dn)}, nil
}

func (s *Server) unregister(cl *client, req wire.Message) (wire.Message, *refusal) {
	dn, r := s.registeredDN(cl, req)
	if r != nil {
		return wire.Message{}, r
	}
	delete(cl.dns, dn)
	delete(s.regs[dn], cl)
	return wire.Message{Name: wire.EventUnregistered, Attrs: wire.KVList{}.Add(wire.AttrThisDN, dn)}, nil
}

func (s *Server) login(cl *client, req wire.Message) (wire.Message, *refusal) {
	dn, r := s.registeredDN(cl, req)
	if r != nil {
		return wire.Message{}, r
	}
	if s.shuttingDown {
		return wire.Message{}, refuse(wire.ErrCodeShuttingDown, "site %d is shutting down: logins are refused", s.opts.Site)
	}
	id := req.Attrs.String(wire.AttrAgentID)
	if id == "" {
		return wire.Message{}, refuse(wire.ErrCodeInvalidAttribute, "AgentID is required")
	}
	p, ok := s.opts.Dir.PersonByAgentID(id)
	if !ok {
		return wire.Message{}, refuse(wire.ErrCodeNotFound, "agent %s is not configured", id)
	}
	if v, ok := req.Attrs.Get(wire.AttrPassword); ok {
		if pw, _ := v.(string); pw != p.Password {
			return wire.Message{}, refuse(wire.ErrCodeAuthFailed, "wrong password for agent %s", id)
		}
	}
	placeName := req.Attrs.String(wire.AttrPlace)
	if placeName == "" {
		return wire.Message{}, refuse(wire.ErrCodeInvalidAttribute, "Place is required")
	}
	place, ok := s.opts.Dir.Place(placeName)
	if !ok {
		return wire.Message{}, refuse(wire.ErrCodeNotFound, "place %s is not configured", placeName)
	}
	if place.Site != s.opts.Site || place.DN != dn {
		return wire.Message{}, refuse(wire.ErrCodeInvalidAttribute, "place %s is DN %s at site %d, not DN %s at site %d",
			placeName, place.DN, place.Site, dn, s.opts.Site)
	}
	wm, _ := req.Attrs.Int(wire.AttrAgentWorkMode)
	if wm < wire.WorkModeUnknown || wm > wire.WorkModeAuxWork {
		return wire.Message{}, refuse(wire.ErrCodeInvalidAttribute, "AgentWorkMode %d is not 0..4", wm)
	}
	if !s.inService[dn] && !s.opts.AllowLoginOutOfService {
		return wire.Message{}, refuse(wire.ErrCodeOutOfService, "DN %s is out of service: its phone is not registered at site %d", dn, s.opts.Site)
	}
	if a := s.agents[dn]; a != nil {
		if a.id == id {
			return wire.Message{}, refuse(wire.ErrCodeInvalidState, "agent %s is already logged in at DN %s", id, dn)
		}
		return wire.Message{}, refuse(wire.ErrCodeInvalidState, "DN %s is in use by agent %s", dn, a.id)
	}
	for _, a := range s.agents {
		if a.id == id {
			return wire.Message{}, refuse(wire.ErrCodeInvalidState, "agent %s is already logged in at DN %s at site %d", id, a.dn, s.opts.Site)
		}
	}
	a := &agent{
		id:       id,
		dn:       dn,
		place:    placeName,
		queue:    req.Attrs.String(wire.AttrThisQueue),
		workMode: wm,
		state:    wire.StateNotReady,
		reasons:  req.Attrs.List(wire.AttrReasons),
		loginAt:  s.opts.Now(),
	}
	if wm == wire.WorkModeAutoIn {
		a.state, a.reasons = wire.StateReady, nil
	}
	s.agents[dn] = a
	attrs := wire.KVList{}.
		Add(wire.AttrThisDN, dn).
		Add(wire.AttrAgentID, id).
		Add(wire.AttrPlace, placeName).
		Add(wire.AttrAgentWorkMode, wm).
		Add(wire.AttrAgentState, a.state)
	if a.queue != "" {
		attrs = attrs.Add(wire.AttrThisQueue, a.queue)
	}
	if len(a.reasons) > 0 {
		attrs = attrs.Add(wire.AttrReasons, a.reasons)
	}
	ans := wire.Message{Name: wire.EventAgentLogin, Attrs: attrs}
	s.broadcast(dn, ans, cl)
	return ans, nil
}

func (s *Server) ready(cl *client, req wire.Message) (wire.Message, *refusal) {
	a, r := s.loggedIn(cl, req)
	if r != nil {
		return wire.Message{}, r
	}
	if wm, _ := req.Attrs.Int(wire.AttrAgentWorkMode); wm == wire.WorkModeManualIn || wm == wire.WorkModeAutoIn {
		a.workMode = wm
	}
	a.state, a.reasons = wire.StateReady, nil
	ans := wire.Message{Name: wire.EventAgentReady, Attrs: wire.KVList{}.
		Add(wire.AttrThisDN, a.dn).
		Add(wire.AttrAgentID, a.id).
		Add(wire.AttrAgentWorkMode, a.workMode).
		Add(wire.AttrAgentState, a.state)}
	s.broadcast(a.dn, ans, cl)
	return ans, nil
}

func (s *Server) notReady(cl *client, req wire.Message) (wire.Message, *refusal) {
	a, r := s.loggedIn(cl, req)
	if r != nil {
		return wire.Message{}, r
	}
	wm, _ := req.Attrs.Int(wire.AttrAgentWorkMode)
	state := wire.StateNotReady
	switch wm {
	case wire.WorkModeUnknown:
		wm = wire.WorkModeAuxWork
	case wire.WorkModeAuxWork:
	case wire.WorkModeAfterCallWork:
		state = wire.StateAfterCallWork
	default:
		return wire.Message{}, refuse(wire.ErrCodeInvalidAttribute, "AgentWorkMode %d is neither AuxWork (%d) nor AfterCallWork (%d)",
			wm, wire.WorkModeAuxWork, wire.WorkModeAfterCallWork)
	}
	a.workMode, a.state, a.reasons = wm, state, req.Attrs.List(wire.AttrReasons)
	attrs := wire.KVList{}.
		Add(wire.AttrThisDN, a.dn).
		Add(wire.AttrAgentID, a.id).
		Add(wire.AttrAgentWorkMode, a.workMode).
		Add(wire.AttrAgentState, a.state)
	if len(a.reasons) > 0 {
		attrs = attrs.Add(wire.AttrReasons, a.reasons)
	}
	ans := wire.Message{Name: wire.EventAgentNotReady, Attrs: attrs}
	s.broadcast(a.dn, ans, cl)
	return ans, nil
}

// logout is the agent's own logout (BC-16): the event carries no ReasonCode,
// whatever Reasons the request had.
func (s *Server) logout(cl *client, req wire.Message) (wire.Message, *refusal) {
	a, r := s.loggedIn(cl, req)
	if r != nil {
		return wire.Message{}, r
	}
	s.remove(a)
	ans := wire.Message{Name: wire.EventAgentLogout, Attrs: wire.KVList{}.
		Add(wire.AttrThisDN, a.dn).
		Add(wire.AttrAgentID, a.id)}
	s.broadcast(a.dn, ans, cl)
	return ans, nil
}

func (s *Server) query(req wire.Message) (wire.Message, *refusal) {
	dn, r := s.siteDN(req)
	if r != nil {
		return wire.Message{}, r
	}
	return wire.Message{Name: wire.EventAddressInfo, Attrs: s.addressInfo(dn)}, nil
}

func (s *Server) private(cl *client, req wire.Message) (wire.Message, *refusal) {
	id, ok := req.Attrs.Int(wire.AttrPrivateMsgID)
	if !ok {
		return wire.Message{}, refuse(wire.ErrCodeInvalidAttribute, "PrivateMsgID (int) is required")
	}
	var ext wire.KVList
	switch id {
	case PrivateSiteInfo:
		shutting := 0
		if s.shuttingDown {
			shutting = 1
		}
		ext = wire.KVList{}.
			Add(ExtSite, s.opts.Site).
			Add(ExtSiteName, s.opts.SiteName).
			Add(ExtShuttingDown, shutting).
			Add(wire.AttrServerRole, s.pair.Role(cl.member)).
			Add(ExtMember, cl.member.String())
	case PrivateAgentStats:
		agentID := req.Attrs.List(wire.AttrExtensions).String(wire.AttrAgentID)
		if agentID == "" {
			if a := s.agents[req.Attrs.String(wire.AttrThisDN)]; a != nil {
				agentID = a.id
			}
		}
		if agentID == "" {
			return wire.Message{}, refuse(wire.ErrCodeInvalidAttribute, "agent statistics need Extensions {AgentID} or a ThisDN with an agent logged in")
		}
		calls, ok := s.agentStat(agentID, wire.StatCallsHandledToday)
		if !ok {
			return wire.Message{}, refuse(wire.ErrCodeNotFound, "agent %s is not configured", agentID)
		}
		login, _ := s.agentStat(agentID, wire.StatLoginTimeToday)
		ext = wire.KVList{}.
			Add(wire.AttrAgentID, agentID).
			Add(wire.StatCallsHandledToday, calls).
			Add(wire.StatLoginTimeToday, login)
	default:
		return wire.Message{}, refuse(wire.ErrCodeInvalidAttribute, "PrivateMsgID %d is not a known private service (known: %d site info, %d agent statistics)",
			id, PrivateSiteInfo, PrivateAgentStats)
	}
	attrs := wire.KVList{}.Add(wire.AttrPrivateMsgID, id)
	if dn := req.Attrs.String(wire.AttrThisDN); dn != "" {
		attrs = attrs.Add(wire.AttrThisDN, dn)
	}
	return wire.Message{Name: wire.EventPrivateInfo, Attrs: attrs.Add(wire.AttrExtensions, ext)}, nil
}
