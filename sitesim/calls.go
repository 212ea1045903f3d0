package sitesim

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/tandem-softphone/tandem/sitesim/directory"
	"github.com/tandem-softphone/tandem/sitesim/sipcall"
	"github.com/tandem-softphone/tandem/sitesim/sipproxy"
)

// switchboard routes the calls of the sites and keeps the DNs of the calls
// busy at their T-Servers. A call to an agent's DN (either site's) is
// delivered through the site where the agent is logged in, to the contact
// its phone registered there (BC-2); the test numbers go to the
// simulator's own user agent.
type switchboard struct {
	dir *directory.Directory
	log *slog.Logger

	mu    sync.Mutex
	sites [2]*Site
	ua    *sipcall.UA
	calls map[string]*routedCall // by Call-ID
	busy  map[party]int          // calls per DN of a site (agentID cleared)
}

// party is a DN that a call keeps busy, and the agent logged in there.
type party struct {
	site    int
	dn      string
	agentID string
}

// routedCall is a call the sites routed, until it ends.
type routedCall struct {
	parties  []party
	answered bool
}

func newSwitchboard(dir *directory.Directory, log *slog.Logger) *switchboard {
	return &switchboard{dir: dir, log: log, calls: map[string]*routedCall{}, busy: map[party]int{}}
}

func (b *switchboard) attach(s *Site) {
	b.mu.Lock()
	b.sites[s.opts.Site-1] = s
	b.mu.Unlock()
}

func (b *switchboard) setUA(ua *sipcall.UA) {
	b.mu.Lock()
	b.ua = ua
	b.mu.Unlock()
}

func (b *switchboard) site(n int) *Site {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sites[n-1]
}

func refuse(status int, reason string) sipproxy.Target {
	return sipproxy.Target{Status: status, Reason: reason}
}

// route is site k's Router: where an initial INVITE goes.
func (b *switchboard) route(k int, req *sip.Request) sipproxy.Target {
	here := b.site(k)
	if here.ts.ShuttingDown() {
		// A site in graceful shutdown takes no new calls (BC-19).
		return refuse(sip.StatusServiceUnavailable, "Site Shutting Down")
	}
	number := req.Recipient.User
	if number == "" {
		return refuse(sip.StatusNotFound, "No Number")
	}
	callID := req.CallID().Value()
	caller := b.partyOf(k, req.From().Address.User)
	if sipcall.IsTestNumber(number) {
		b.mu.Lock()
		ua := b.ua
		b.mu.Unlock()
		if ua == nil {
			return refuse(sip.StatusNotFound, "No Test Numbers")
		}
		b.begin(callID, caller)
		a := ua.Addr()
		return sipproxy.Target{URI: sip.Uri{Scheme: "sip", User: number, Host: a.Addr().String(), Port: int(a.Port())}}
	}
	p, ok := b.owner(number)
	if !ok {
		return refuse(sip.StatusNotFound, "No Such Number")
	}
	callee, ok := b.loggedIn(p.AgentID)
	if !ok {
		return refuse(sip.StatusTemporarilyUnavailable, "Agent Not Logged In")
	}
	if callee.site != k {
		other := b.site(callee.site)
		if other == nil {
			return refuse(sip.StatusTemporarilyUnavailable, "Agent's Site Not Running")
		}
		addr := other.reg.UDPAddr()
		if req.Source() == addr.String() {
			// The other site sent it here: the agent moved meanwhile.
			return refuse(sip.StatusTemporarilyUnavailable, "Agent Moved")
		}
		b.begin(callID, caller, &callee)
		return sipproxy.Target{URI: sip.Uri{Scheme: "sip", User: callee.dn, Host: addr.IP.String(), Port: addr.Port}}
	}
	bindings := here.reg.Lookup(callee.dn)
	if len(bindings) == 0 {
		return refuse(sip.StatusTemporarilyUnavailable, "Not Registered At Site "+strconv.Itoa(k))
	}
	bnd := bindings[len(bindings)-1] // the newest
	var uri sip.Uri
	if err := sip.ParseUri(bnd.Contact, &uri); err != nil {
		b.log.Warn("binding with a contact that does not parse", "dn", callee.dn, "contact", bnd.Contact, "err", err)
		return refuse(sip.StatusTemporarilyUnavailable, "Unusable Contact")
	}
	t := sipproxy.Target{URI: uri, Transport: bnd.Transport}
	if bnd.Transport == "TCP" {
		// Over the connection the phone registered on.
		t.Addr = bnd.Source
	}
	b.begin(callID, caller, &callee)
	return t
}

// owner finds the agent one of whose DNs is number.
func (b *switchboard) owner(number string) (directory.Person, bool) {
	if number == "" {
		return directory.Person{}, false
	}
	for _, p := range b.dir.Persons() {
		if p.DNs[0] == number || p.DNs[1] == number {
			return p, true
		}
	}
	return directory.Person{}, false
}

// loggedIn finds the site and DN where an agent is logged in.
func (b *switchboard) loggedIn(agentID string) (party, bool) {
	for n := 1; n <= 2; n++ {
		if s := b.site(n); s != nil {
			if dn, ok := s.ts.AgentDN(agentID); ok {
				return party{site: n, dn: dn, agentID: agentID}, true
			}
		}
	}
	return party{}, false
}

// partyOf is the DN a caller's call keeps busy: the agent's where it is
// logged in, else the DN itself at the site the call came through.
func (b *switchboard) partyOf(k int, user string) *party {
	if p, ok := b.owner(user); ok {
		if at, ok := b.loggedIn(p.AgentID); ok {
			return &at
		}
	}
	if _, ok := b.dir.DN(k, user); ok {
		return &party{site: k, dn: user}
	}
	return nil
}

// begin tracks a call and makes its DNs busy; the second site a call
// passes finds it tracked already.
func (b *switchboard) begin(callID string, parties ...*party) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.calls[callID]; ok {
		return
	}
	c := &routedCall{}
	for _, p := range parties {
		if p == nil {
			continue
		}
		c.parties = append(c.parties, *p)
		key := party{site: p.site, dn: p.dn}
		b.busy[key]++
		if b.busy[key] == 1 {
			b.setBusy(key, true)
		}
	}
	b.calls[callID] = c
}

// onCall hears from the sites' proxies how the calls go.
func (b *switchboard) onCall(ev sipproxy.CallEvent) {
	b.mu.Lock()
	defer b.mu.Unlock()
	c, ok := b.calls[ev.CallID]
	if !ok {
		return
	}
	switch ev.Kind {
	case sipproxy.CallAnswered:
		c.answered = true
		return
	case sipproxy.CallEnded:
		if c.answered {
			for _, p := range c.parties {
				if p.agentID == "" {
					continue
				}
				if err := b.sites[p.site-1].ts.CallHandled(p.agentID); err != nil {
					b.log.Warn("count a handled call", "agent", p.agentID, "err", err)
				}
			}
		}
	}
	// Failed or ended: the DNs are free again. Counted first, so that a
	// graceful shutdown that waited for the call logs the agent out after.
	for _, p := range c.parties {
		key := party{site: p.site, dn: p.dn}
		b.busy[key]--
		if b.busy[key] == 0 {
			delete(b.busy, key)
			b.setBusy(key, false)
		}
	}
	delete(b.calls, ev.CallID)
}

// setBusy tells a site's T-Server; b.mu is held.
func (b *switchboard) setBusy(p party, busy bool) {
	s := b.sites[p.site-1]
	if s == nil {
		return
	}
	if err := s.ts.SetDNBusy(p.dn, busy); err != nil {
		b.log.Warn("DN busy state", "site", p.site, "dn", p.dn, "busy", busy, "err", err)
	}
}

// The control interface's call requests and answers.
type (
	// CallRequest is the body of POST /call: a simulated customer calls a
	// number (an agent's DN or a test number) through a site.
	CallRequest struct {
		To   string `json:"to"`
		Site int    `json:"site,omitempty"` // default 1
		// Audio is a WAV file (16-bit mono, a path on the simulator's
		// machine) played once the call is answered; default a tone.
		Audio string `json:"audio,omitempty"`
		// Record is a WAV file to write what the customer hears into.
		Record string `json:"record,omitempty"`
		// Duration hangs up this long after the answer ("30s"); default
		// never: until POST /hangup or the agent hangs up.
		Duration string `json:"duration,omitempty"`
	}
	// CallAnswer is the answer of POST /call.
	CallAnswer struct {
		Call string `json:"call"`
	}
	// HangupRequest is the body of POST /hangup.
	HangupRequest struct {
		Call string `json:"call"`
	}
	// CallStatus is a call of the simulated customers or test numbers
	// (GET /calls).
	CallStatus struct {
		sipcall.Info
		Site int `json:"site,omitempty"` // the site the call went through
	}
)

// dialOptions checks a CallRequest and makes it the user agent's request.
func (s *Sim) dialOptions(r CallRequest) (sipcall.DialOptions, error) {
	if r.To == "" {
		return sipcall.DialOptions{}, invalidf("to is required")
	}
	if r.Site == 0 {
		r.Site = 1
	}
	site, err := s.Site(r.Site)
	if err != nil {
		return sipcall.DialOptions{}, err
	}
	var d time.Duration
	if r.Duration != "" {
		if d, err = time.ParseDuration(r.Duration); err != nil || d < 0 {
			return sipcall.DialOptions{}, invalidf("duration %q: want a positive duration such as 30s", r.Duration)
		}
	}
	return sipcall.DialOptions{To: r.To, Server: site.reg.UDPAddr().String(), Audio: r.Audio, Record: r.Record, Duration: d}, nil
}

// Call places a call from a simulated customer and returns its id at
// once; Calls tells how it goes.
func (s *Sim) Call(r CallRequest) (string, error) {
	o, err := s.dialOptions(r)
	if err != nil {
		return "", err
	}
	info, err := s.ua.Dial(o)
	if errors.Is(err, sipcall.ErrInvalid) {
		return "", invalidf("%w", err)
	}
	if err != nil {
		return "", fmt.Errorf("call %s: %w", r.To, err)
	}
	return info.ID, nil
}

// Hangup ends a call of the simulated user agent.
func (s *Sim) Hangup(id string) error {
	if id == "" {
		return invalidf("call is required")
	}
	if s.ua == nil {
		return notFoundf("no call %s", id)
	}
	err := s.ua.Hangup(id)
	switch {
	case errors.Is(err, sipcall.ErrUnknownCall):
		return notFoundf("no call %s", id)
	case errors.Is(err, sipcall.ErrEnded):
		return invalidf("call %s has ended", id)
	}
	return err
}

// Calls lists the calls of the simulated customers and test numbers.
func (s *Sim) Calls() []CallStatus {
	out := []CallStatus{}
	if s.ua == nil {
		return out
	}
	for _, info := range s.ua.Calls() {
		st := CallStatus{Info: info}
		for _, site := range s.sites {
			if site != nil && sameAddr(info.Peer, site.reg.UDPAddr()) {
				st.Site = site.Number()
			}
		}
		out = append(out, st)
	}
	return out
}

func sameAddr(hostPort string, a *net.UDPAddr) bool {
	return a != nil && hostPort == a.String()
}
