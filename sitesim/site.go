// Package sitesim simulates two SIP Business Continuity sites on loopback,
// so that the desktop can be run, demonstrated and tested without a contact
// center. Each Site has a T-Server HA pair (tsim), a Config Server Proxy pair
// (confsim), a Stat Server pair (statsim) and a SIP registrar (registrar)
// whose registrations drive the DNs' service state (BC-18), with a proxy on
// the same sockets (sipproxy) that routes calls (calls.go). A Sim runs both
// sites over one configuration database with a simulated user agent
// (sipcall: customers and test numbers), keeps an event log of the
// T-Servers' events, and serves the control interface (control.go) that
// testers use to inject faults and place calls. docs/simulator.md is the
// user's guide.
package sitesim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/tandem-softphone/tandem/link"
	"github.com/tandem-softphone/tandem/sitesim/confsim"
	"github.com/tandem-softphone/tandem/sitesim/directory"
	"github.com/tandem-softphone/tandem/sitesim/mwi"
	"github.com/tandem-softphone/tandem/sitesim/registrar"
	"github.com/tandem-softphone/tandem/sitesim/sipproxy"
	"github.com/tandem-softphone/tandem/sitesim/statsim"
	"github.com/tandem-softphone/tandem/sitesim/tsim"
	"github.com/tandem-softphone/tandem/wire"
)

// Errors of the control operations, for callers to test with errors.Is.
var (
	ErrInvalid  = errors.New("invalid request")
	ErrNotFound = errors.New("not found")
)

// kindError is an error of kind ErrInvalid or ErrNotFound whose text does
// not repeat the kind.
type kindError struct{ kind, err error }

func (e *kindError) Error() string   { return e.err.Error() }
func (e *kindError) Unwrap() []error { return []error{e.kind, e.err} }

func invalidf(format string, args ...any) error {
	return &kindError{kind: ErrInvalid, err: fmt.Errorf(format, args...)}
}

func notFoundf(format string, args ...any) error {
	return &kindError{kind: ErrNotFound, err: fmt.Errorf(format, args...)}
}

// Server names a server of a site, or a group of them, for Kill and Revive.
type Server string

// The servers of a site.
const (
	ServerAll            Server = "all"
	ServerTServer        Server = "tserver" // both members
	ServerTServerPrimary Server = "tserver-primary"
	ServerTServerBackup  Server = "tserver-backup"
	ServerConfig         Server = "config" // both members
	ServerConfigPrimary  Server = "config-primary"
	ServerConfigBackup   Server = "config-backup"
	ServerStat           Server = "stat" // both members
	ServerStatPrimary    Server = "stat-primary"
	ServerStatBackup     Server = "stat-backup"
	ServerSIP            Server = "sip" // the registrar, UDP and TCP
)

// units are the servers a name stands for, in the order they are reported.
var units = []Server{
	ServerTServerPrimary, ServerTServerBackup,
	ServerConfigPrimary, ServerConfigBackup,
	ServerStatPrimary, ServerStatBackup,
	ServerSIP,
}

func (s Server) units() ([]Server, error) {
	switch s {
	case ServerAll:
		return units, nil
	case ServerTServer, ServerConfig, ServerStat:
		return []Server{s + "-primary", s + "-backup"}, nil
	}
	for _, u := range units {
		if s == u {
			return []Server{u}, nil
		}
	}
	names := []string{string(ServerAll), string(ServerTServer), string(ServerConfig), string(ServerStat)}
	for _, u := range units {
		names = append(names, string(u))
	}
	return nil, invalidf("unknown server %q (one of %s)", s, strings.Join(names, ", "))
}

// FaultMode is how Kill makes a server fail.
type FaultMode string

// Fault modes.
const (
	// ModeClose closes the listener and every connection: peers see refused
	// connects at once.
	ModeClose FaultMode = "close"
	// ModeBlackhole keeps connections open but answers nothing, not even
	// keep-alive: only the peers' keep-alive notices (BC-5).
	ModeBlackhole FaultMode = "blackhole"
)

// SiteAddrs are the host:port addresses one site listens on; port 0 lets
// the system pick, an empty host means 127.0.0.1.
type SiteAddrs struct {
	ConfigPrimary, ConfigBackup   string
	TServerPrimary, TServerBackup string
	StatPrimary, StatBackup       string
	SIP                           string // the registrar, UDP and TCP
}

// SiteOptions configure a Site.
type SiteOptions struct {
	Site        int    // 1 or 2
	Application string // the site's application object in Dir
	Dir         *directory.Directory
	Addrs       SiteAddrs
	// KeepAlive is the servers' ADDP timeout, used when a client does not
	// ask for its own (default 30 s).
	KeepAlive time.Duration
	// AllowLoginOutOfService lets agents log in at a DN whose phone is not
	// registered at the site.
	AllowLoginOutOfService bool
	// StatInterval is how often the Stat Server polls the values (default 1 s).
	StatInterval time.Duration
	// SIPMinExpires is the shortest registration the registrar accepts, whole
	// seconds (default 1 s, so that testers can let a binding run out).
	SIPMinExpires time.Duration
	// OnEvent observes every T-Server event; see tsim.Options.OnEvent.
	OnEvent func(tsim.Event)
	Logger  *slog.Logger

	// board routes the calls of the Sim's sites; a lone site has its own.
	board *switchboard
}

// Site is one simulated site.
type Site struct {
	opts SiteOptions
	log  *slog.Logger
	ts   *tsim.Server
	conf *confsim.Pair
	stat *statsim.Pair
	reg  *registrar.Registrar // with the site's call-routing proxy on its sockets
	mwi  *mwi.Notifier        // the site's voicemail: message-summary subscriptions

	expMu    sync.Mutex
	expiries map[string][]chan struct{} // DN → closed when its unregistration reached the T-Server
}

// StartSite starts every server of a site. The registrar stops when ctx ends;
// Close stops everything.
func StartSite(ctx context.Context, opts SiteOptions) (*Site, error) {
	if opts.Site != 1 && opts.Site != 2 {
		return nil, invalidf("site %d: must be 1 or 2", opts.Site)
	}
	if opts.Dir == nil {
		return nil, fmt.Errorf("site %d: a directory is required", opts.Site)
	}
	if _, ok := opts.Dir.Application(opts.Application); !ok {
		return nil, fmt.Errorf("site %d: application %q is not in the directory", opts.Site, opts.Application)
	}
	if opts.KeepAlive <= 0 {
		opts.KeepAlive = 30 * time.Second
	}
	if opts.SIPMinExpires <= 0 {
		opts.SIPMinExpires = time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.board == nil {
		opts.board = newSwitchboard(opts.Dir, opts.Logger)
	}
	a, err := loopback(opts.Addrs)
	if err != nil {
		return nil, fmt.Errorf("site %d: %w", opts.Site, err)
	}
	opts.Addrs = a
	s := &Site{opts: opts, log: opts.Logger.With("site", opts.Site), expiries: map[string][]chan struct{}{}}
	if err := s.start(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("site %d: %w", opts.Site, err)
	}
	if err := s.publish(); err != nil {
		s.Close()
		return nil, fmt.Errorf("site %d: %w", opts.Site, err)
	}
	return s, nil
}

func (s *Site) linkOptions(role string) link.Options {
	return link.Options{
		AppName:   fmt.Sprintf("sitesim-site%d-%s", s.opts.Site, role),
		KeepAlive: s.opts.KeepAlive,
		Logger:    s.log.With("server", role),
	}
}

func (s *Site) start(ctx context.Context) error {
	a := s.opts.Addrs
	var err error
	s.ts, err = tsim.New(tsim.Options{
		Site:                   s.opts.Site,
		SiteName:               s.opts.Application,
		Dir:                    s.opts.Dir,
		PrimaryAddr:            a.TServerPrimary,
		BackupAddr:             a.TServerBackup,
		Link:                   s.linkOptions("tserver"),
		AllowLoginOutOfService: s.opts.AllowLoginOutOfService,
		OnEvent:                s.opts.OnEvent,
		Logger:                 s.log,
	})
	if err != nil {
		return err
	}
	conf := confsim.New(confsim.Options{
		Dir:         s.opts.Dir,
		Site:        s.opts.Site,
		PrimaryAddr: a.ConfigPrimary,
		BackupAddr:  a.ConfigBackup,
		Link:        s.linkOptions("config"),
	})
	if err := conf.Start(); err != nil {
		return err
	}
	s.conf = conf
	stat := statsim.New(statsim.Options{
		Site:        s.opts.Site,
		PrimaryAddr: a.StatPrimary,
		BackupAddr:  a.StatBackup,
		Link:        s.linkOptions("stat"),
		Value:       s.ts.AgentStat,
		Interval:    s.opts.StatInterval,
	})
	if err := stat.Start(); err != nil {
		return err
	}
	s.stat = stat
	site := s.opts.Site
	board := s.opts.board
	board.attach(s)
	s.mwi = mwi.New(s.log.With("server", "sip"))
	proxy, err := sipproxy.New(sipproxy.Options{
		Router:      sipproxy.RouterFunc(func(req *sip.Request) sipproxy.Target { return board.route(site, req) }),
		OnCall:      board.onCall,
		OnSubscribe: s.mwi.Handle,
		Logger:      s.log.With("server", "sip"),
	})
	if err != nil {
		return err
	}
	reg, err := registrar.New(registrar.Options{
		Realm: fmt.Sprintf("site%d.sitesim", site),
		Password: func(user string) (string, bool) {
			dn, ok := s.opts.Dir.DN(site, user)
			return dn.SIPPassword, ok
		},
		UDPAddr:    a.SIP,
		TCPAddr:    a.SIP,
		MinExpires: s.opts.SIPMinExpires,
		Logger:     s.log.With("server", "sip"),
		OnChange:   s.onRegistration,
		Extend:     proxy.Extend,
	})
	if err != nil {
		return err
	}
	// Set before it serves: the proxy's routing reads it.
	s.reg = reg
	return reg.Start(ctx)
}

// onRegistration drives the T-Server's DN state from the registrar (BC-18).
func (s *Site) onRegistration(ch registrar.Change) {
	s.log.Info("SIP registration", "dn", ch.DN, "registered", ch.Registered, "reason", ch.Reason, "contact", ch.Contact)
	if err := s.ts.SetDNInService(ch.DN, ch.Registered, ch.Reason); err != nil {
		s.log.Warn("registration change of a DN the T-Server does not know", "dn", ch.DN, "err", err)
	}
	if !ch.Registered {
		s.expMu.Lock()
		for _, done := range s.expiries[ch.DN] {
			close(done)
		}
		delete(s.expiries, ch.DN)
		s.expMu.Unlock()
	}
}

// publish writes the bound addresses into the site's application object, so
// that the Config Server serves them as the application's connections.
func (s *Site) publish() error {
	cp, cb := s.conf.Addrs()
	sp, sb := s.stat.Addrs()
	conns := []directory.Connection{
		{Type: wire.ConnTypeTServer, Primary: s.ts.Addr(link.Primary), Backup: s.ts.Addr(link.Backup)},
		{Type: wire.ConnTypeConfigServer, Primary: cp, Backup: cb},
		{Type: wire.ConnTypeStatServer, Primary: sp, Backup: sb},
	}
	udp, tcp := s.reg.UDPAddr().String(), s.reg.TCPAddr().String()
	if udp == tcp {
		conns = append(conns, directory.Connection{Type: wire.ConnTypeSIPRegistrar, Primary: udp, Transport: "udp,tcp"})
	} else {
		conns = append(conns,
			directory.Connection{Type: wire.ConnTypeSIPRegistrar, Primary: udp, Transport: "udp"},
			directory.Connection{Type: wire.ConnTypeSIPRegistrar, Primary: tcp, Transport: "tcp"})
	}
	return s.opts.Dir.SetConnections(s.opts.Application, conns)
}

// Close stops every server of the site.
func (s *Site) Close() {
	// The registrar first: its last changes still find the T-Server.
	if s.reg != nil {
		s.reg.Close()
	}
	if s.stat != nil {
		s.stat.Close()
	}
	if s.conf != nil {
		s.conf.Close()
	}
	if s.ts != nil {
		s.ts.Close()
	}
}

// Number is the site's number, 1 or 2.
func (s *Site) Number() int { return s.opts.Site }

// TServer is the site's simulated T-Server.
func (s *Site) TServer() *tsim.Server { return s.ts }

// Registrar is the site's SIP registrar.
func (s *Site) Registrar() *registrar.Registrar { return s.reg }

// Addrs returns the bound addresses; SIP is the registrar's UDP address
// (see SIPTCPAddr).
func (s *Site) Addrs() SiteAddrs {
	cp, cb := s.conf.Addrs()
	sp, sb := s.stat.Addrs()
	return SiteAddrs{
		ConfigPrimary: cp, ConfigBackup: cb,
		TServerPrimary: s.ts.Addr(link.Primary), TServerBackup: s.ts.Addr(link.Backup),
		StatPrimary: sp, StatBackup: sb,
		SIP: s.reg.UDPAddr().String(),
	}
}

// SIPTCPAddr is the registrar's TCP address (the same as the UDP one unless
// port 0 was asked).
func (s *Site) SIPTCPAddr() string { return s.reg.TCPAddr().String() }

// Kill makes servers fail: closed or blackholed.
func (s *Site) Kill(server Server, mode FaultMode) error {
	var lm link.Mode
	var rm registrar.Mode
	switch mode {
	case ModeClose:
		lm, rm = link.Closed, registrar.Closed
	case ModeBlackhole:
		lm, rm = link.Blackhole, registrar.Blackhole
	default:
		return invalidf("unknown mode %q (close or blackhole)", mode)
	}
	return s.setMode(server, lm, rm)
}

// Revive brings servers back up. Reviving the whole T-Server (ServerAll or
// ServerTServer) also ends a graceful shutdown.
func (s *Site) Revive(server Server) error {
	if err := s.setMode(server, link.Up, registrar.Up); err != nil {
		return err
	}
	if server == ServerAll || server == ServerTServer {
		s.ts.Resume()
	}
	return nil
}

func (s *Site) setMode(server Server, lm link.Mode, rm registrar.Mode) error {
	us, err := server.units()
	if err != nil {
		return err
	}
	var errs []error
	for _, u := range us {
		var err error
		switch u {
		case ServerTServerPrimary:
			err = s.ts.SetMode(link.Primary, lm)
		case ServerTServerBackup:
			err = s.ts.SetMode(link.Backup, lm)
		case ServerConfigPrimary:
			err = s.conf.SetMode(link.Primary, lm)
		case ServerConfigBackup:
			err = s.conf.SetMode(link.Backup, lm)
		case ServerStatPrimary:
			err = s.stat.SetMode(link.Primary, lm)
		case ServerStatBackup:
			err = s.stat.SetMode(link.Backup, lm)
		case ServerSIP:
			err = s.reg.SetMode(rm)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", u, err))
		} else {
			s.log.Info("server mode", "server", u, "mode", lm)
		}
	}
	return errors.Join(errs...)
}

// ExpireRegistration drops a DN's SIP registration at once, as if it had
// expired. It returns once the T-Server has reacted (BC-18), so that the
// events are in the log.
func (s *Site) ExpireRegistration(dn string) error {
	if _, ok := s.opts.Dir.DN(s.opts.Site, dn); !ok {
		return notFoundf("DN %s is not configured at site %d", dn, s.opts.Site)
	}
	done := make(chan struct{})
	s.expMu.Lock()
	s.expiries[dn] = append(s.expiries[dn], done)
	s.expMu.Unlock()
	if !s.reg.Expire(dn) {
		s.expMu.Lock()
		rest := slices.DeleteFunc(s.expiries[dn], func(c chan struct{}) bool { return c == done })
		if len(rest) == 0 {
			delete(s.expiries, dn)
		} else {
			s.expiries[dn] = rest
		}
		s.expMu.Unlock()
		return notFoundf("DN %s has no SIP registration at site %d", dn, s.opts.Site)
	}
	// The registrar reports the change on its own goroutine, in order.
	select {
	case <-done:
		return nil
	case <-time.After(5 * time.Second):
		return fmt.Errorf("DN %s: the registrar did not report the expiry within 5 s", dn)
	}
}

// SetMessages sets the voice messages waiting in a DN's mailbox; the
// desktops subscribed to it (message-summary) are told at once.
func (s *Site) SetMessages(dn string, newMsgs, oldMsgs int) error {
	if newMsgs < 0 || oldMsgs < 0 {
		return invalidf("message counts must not be negative")
	}
	if _, ok := s.opts.Dir.DN(s.opts.Site, dn); !ok {
		return notFoundf("site %d: no DN %s", s.opts.Site, dn)
	}
	s.mwi.Set(dn, mwi.Counts{New: newMsgs, Old: oldMsgs})
	return nil
}

// GracefulShutdown logs every agent out with graceful_shutdown_logout and
// refuses logins until Revive (BC-19).
func (s *Site) GracefulShutdown() { s.ts.GracefulShutdown() }

// ForceLogout is a supervisor's logout of an agent, named by agent id or
// user name, with a reason code (BC-17).
func (s *Site) ForceLogout(agent, reason string) error {
	if reason == "" {
		return invalidf("a reason is required")
	}
	id := agent
	if _, ok := s.opts.Dir.PersonByAgentID(agent); !ok {
		p, ok := s.opts.Dir.Person(agent)
		if !ok {
			return notFoundf("agent %q is neither an agent id nor a user name", agent)
		}
		id = p.AgentID
	}
	if err := s.ts.ForceLogout(id, reason); err != nil {
		if errors.Is(err, tsim.ErrNotLoggedIn) {
			return notFoundf("%w", err)
		}
		return err
	}
	return nil
}

// SiteStatus is one site's state, for the control interface.
type SiteStatus struct {
	Site         int               `json:"site"`
	Application  string            `json:"application"`
	ShuttingDown bool              `json:"shutting_down"`
	Servers      []ServerStatus    `json:"servers"`
	DNs          []DNStatus        `json:"dns"`
	Agents       []tsim.AgentState `json:"agents"`
}

// ServerStatus is one server.
type ServerStatus struct {
	Name    Server `json:"name"`
	Addr    string `json:"addr"`               // the SIP registrar's UDP address
	TCPAddr string `json:"tcp_addr,omitempty"` // the SIP registrar's TCP address
	Mode    string `json:"mode"`               // up, closed, blackhole
	Role    string `json:"role,omitempty"`     // the role an HA member announces
	Links   int    `json:"links"`
}

// DNStatus is one DN: its SIP registrations at the site and its T-Server state.
type DNStatus struct {
	DN            string         `json:"dn"`
	InService     bool           `json:"in_service"`
	Busy          bool           `json:"busy,omitempty"`
	TServerLinks  int            `json:"tserver_links"`
	AgentID       string         `json:"agent_id,omitempty"`
	Registrations []Registration `json:"registrations"`
}

// Registration is one SIP binding of a DN.
type Registration struct {
	Contact   string `json:"contact"`
	Transport string `json:"transport"`
	Source    string `json:"source"`
	ExpiresIn int64  `json:"expires_in"` // seconds
}

// Status returns the site's state.
func (s *Site) Status() SiteStatus {
	snap := s.ts.Snapshot()
	st := SiteStatus{
		Site:         s.opts.Site,
		Application:  s.opts.Application,
		ShuttingDown: snap.ShuttingDown,
		Agents:       snap.Agents,
	}
	for _, p := range []struct {
		name    Server
		members []link.MemberStatus
	}{
		{ServerTServer, snap.Members},
		{ServerConfig, s.conf.Members()},
		{ServerStat, s.stat.Members()},
	} {
		for _, m := range p.members {
			st.Servers = append(st.Servers, ServerStatus{
				Name: p.name + "-" + Server(m.Member), Addr: m.Addr, Mode: m.Mode, Role: m.Role, Links: m.Links,
			})
		}
	}
	st.Servers = append(st.Servers, ServerStatus{
		Name: ServerSIP, Addr: s.reg.UDPAddr().String(), TCPAddr: s.reg.TCPAddr().String(), Mode: s.reg.Mode().String(),
	})
	bindings := map[string][]Registration{}
	for _, b := range s.reg.Bindings() {
		bindings[b.DN] = append(bindings[b.DN], Registration{
			Contact: b.Contact, Transport: b.Transport, Source: b.Source, ExpiresIn: int64(b.Expires / time.Second),
		})
	}
	for _, d := range snap.DNs {
		regs := bindings[d.DN]
		if regs == nil {
			regs = []Registration{}
		}
		st.DNs = append(st.DNs, DNStatus{
			DN: d.DN, InService: d.InService, Busy: d.Busy, TServerLinks: d.Links, AgentID: d.AgentID, Registrations: regs,
		})
	}
	if st.Agents == nil {
		st.Agents = []tsim.AgentState{}
	}
	return st
}

// loopback puts 127.0.0.1 in front of every ":port" address, so that no
// server listens on every interface.
func loopback(a SiteAddrs) (SiteAddrs, error) {
	for _, p := range []*string{&a.ConfigPrimary, &a.ConfigBackup, &a.TServerPrimary, &a.TServerBackup, &a.StatPrimary, &a.StatBackup, &a.SIP} {
		v, err := loopbackAddr(*p)
		if err != nil {
			return a, err
		}
		*p = v
	}
	return a, nil
}

func loopbackAddr(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", invalidf("address %q: %w", addr, err)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port), nil
}
