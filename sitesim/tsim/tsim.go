// Package tsim is the simulated T-Server of one site: one shared state (the
// site's DNs, whether each DN's phone is registered, the agents logged in,
// which links registered which DN) served by an HA pair of link.Servers. When
// the member holding the primary role dies the other announces itself as
// primary and serves the same state (hot standby). Requests follow
// docs/protocol.md §7.
package tsim

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tandem-softphone/tandem/link"
	"github.com/tandem-softphone/tandem/sitesim/directory"
	"github.com/tandem-softphone/tandem/wire"
)

// Member names one server of the HA pair.
type Member int

// The two members of the pair.
const (
	Primary Member = iota
	Backup
)

func (m Member) String() string {
	if m == Backup {
		return "backup"
	}
	return "primary"
}

// Private services (RequestPrivateService's PrivateMsgID).
const (
	// PrivateSiteInfo answers Extensions {Site, SiteName, ShuttingDown (0/1),
	// ServerRole, Member}.
	PrivateSiteInfo = 1
	// PrivateAgentStats answers Extensions {AgentID, CallsHandledToday,
	// LoginTimeToday} for the AgentID in the request's Extensions, or for the
	// agent logged in at ThisDN.
	PrivateAgentStats = 2
)

// Keys of the private services' Extensions.
const (
	ExtSite         = "Site"
	ExtSiteName     = "SiteName"
	ExtShuttingDown = "ShuttingDown"
	ExtMember       = "Member"
)

// Errors of the supervisor and simulator operations.
var (
	ErrUnknownDN   = errors.New("unknown DN")
	ErrNotLoggedIn = errors.New("agent not logged in")
)

// Event is one event the T-Server emitted, handed to Options.OnEvent: an
// answer (Msg.RefID is the request's; Member is the server that answered) or
// an unsolicited event (RefID 0, Member ""). An event sent to several links is
// reported once.
type Event struct {
	Site   int
	Member string
	Msg    wire.Message
}

// Options configure a Server.
type Options struct {
	Site     int    // 1 or 2
	SiteName string // for the site-info private service and logs
	Dir      *directory.Directory
	// PrimaryAddr and BackupAddr are host:port to listen on (":0" allowed).
	PrimaryAddr, BackupAddr string
	// Link configures the server end of every link (keep-alive, timeouts).
	// Its Handler is the Server's own.
	Link link.Options
	TLS  *tls.Config
	// AllowLoginOutOfService lets agents log in at a DN whose phone is not
	// registered at this site (by default such a login gets ErrCodeOutOfService).
	AllowLoginOutOfService bool
	// OnEvent observes every event emitted. It is called in order with the
	// Server's lock held: it must not block nor call the Server.
	OnEvent func(Event)
	// Now is the clock for login times (default time.Now).
	Now    func() time.Time
	Logger *slog.Logger
}

// Server is one site's T-Server: an HA pair over one state.
type Server struct {
	opts    Options
	log     *slog.Logger
	members [2]*link.Server
	modes   [2]atomic.Int32 // link.Mode of each member, read by the send queues

	mu           sync.Mutex
	active       Member // the member holding the primary role
	clients      map[*link.Conn]*client
	regs         map[string]map[*client]bool // DN → links that registered it
	inService    map[string]bool             // DN → its phone is registered at this site
	busy         map[string]bool             // DN → on a call (set by a call layer)
	agents       map[string]*agent           // by DN
	stats        map[string]*agentStats      // by agent id
	shuttingDown bool
	closed       bool

	wg sync.WaitGroup
}

// client is one link to either member.
type client struct {
	conn   *link.Conn
	member Member
	q      *link.Queue[wire.Message]
	dns    map[string]bool // guarded by Server.mu
}

func (c *client) send(m wire.Message) { c.q.Put(m) }

// New starts both members listening.
func New(opts Options) (*Server, error) {
	if opts.Site != 1 && opts.Site != 2 {
		return nil, fmt.Errorf("tsim: site %d: must be 1 or 2", opts.Site)
	}
	if opts.Dir == nil {
		return nil, errors.New("tsim: a directory is required")
	}
	if opts.PrimaryAddr == "" || opts.BackupAddr == "" {
		return nil, errors.New("tsim: primary and backup addresses are required")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.SiteName == "" {
		opts.SiteName = fmt.Sprintf("site%d", opts.Site)
	}
	s := &Server{
		opts:      opts,
		log:       opts.Logger.With("tserver", opts.SiteName),
		clients:   map[*link.Conn]*client{},
		regs:      map[string]map[*client]bool{},
		inService: map[string]bool{},
		busy:      map[string]bool{},
		agents:    map[string]*agent{},
		stats:     map[string]*agentStats{},
	}
	for _, m := range []Member{Primary, Backup} {
		lo := opts.Link
		if lo.AppName == "" {
			lo.AppName = fmt.Sprintf("tsim-site%d-%s", opts.Site, m)
		}
		if lo.Logger == nil {
			lo.Logger = s.log.With("member", m.String())
		}
		lo.Handler = func(c *link.Conn, msg wire.Message) { s.handle(m, c, msg) }
		addr := opts.PrimaryAddr
		if m == Backup {
			addr = opts.BackupAddr
		}
		srv, err := link.Listen(link.ServerOptions{
			Addr: addr,
			Link: lo,
			TLS:  opts.TLS,
			Info: func() wire.KVList { return wire.KVList{}.Add(wire.AttrServerRole, s.Role(m)) },
		})
		if err != nil {
			if m == Backup {
				s.members[Primary].Close()
			}
			return nil, fmt.Errorf("tsim site %d %s: %w", opts.Site, m, err)
		}
		s.members[m] = srv
	}
	return s, nil
}

// Addr is the bound address of a member.
func (s *Server) Addr(m Member) string { return s.members[m].Addr() }

// Mode is a member's fault-injection mode.
func (s *Server) Mode(m Member) link.Mode { return link.Mode(s.modes[m].Load()) }

// Role is the role a member announces: "primary" or "backup". The backup takes
// the primary role when the primary stops answering, and keeps it when the
// old primary comes back, as a real HA pair does.
func (s *Server) Role(m Member) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m == s.active {
		return "primary"
	}
	return "backup"
}

// Links is the number of live links to a member.
func (s *Server) Links(m Member) int { return len(s.members[m].Conns()) }

// SetMode injects a fault into one member (link.Closed or link.Blackhole) or
// ends it (link.Up). The other member takes the primary role if the one
// holding it stops answering.
func (s *Server) SetMode(m Member, mode link.Mode) error {
	s.modes[m].Store(int32(mode))
	// Never under s.mu: closing links waits for their read loops, which may
	// be waiting for s.mu in handle.
	if err := s.members[m].SetMode(mode); err != nil {
		return fmt.Errorf("tsim site %d %s: set mode %v: %w", s.opts.Site, m, mode, err)
	}
	s.mu.Lock()
	other := 1 - s.active
	if s.Mode(s.active) != link.Up && s.Mode(other) == link.Up {
		s.active = other
		s.log.Info("role change", "primary", other.String())
	}
	s.mu.Unlock()
	return nil
}

// Close stops both members and waits for the links to be gone.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	for _, srv := range s.members {
		srv.Close()
	}
	s.wg.Wait()
	return nil
}

// client returns the state of link c, made on its first message; nil once
// the link is gone.
func (s *Server) client(m Member, c *link.Conn) *client {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cl, ok := s.clients[c]; ok {
		return cl
	}
	if s.closed {
		return nil
	}
	select {
	case <-c.Done():
		return nil
	default:
	}
	cl := &client{conn: c, member: m, dns: map[string]bool{}}
	cl.q = link.NewQueue(func(msg wire.Message) {
		// A blackholed member says nothing, not even unsolicited events.
		if s.Mode(m) == link.Blackhole {
			return
		}
		if err := c.Send(msg); err != nil {
			s.log.Debug("send failed", "peer", c.RemoteAddr().String(), "event", msg.Name, "err", err)
		}
	})
	s.clients[c] = cl
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		<-c.Done()
		s.drop(cl)
	}()
	return cl
}

// drop forgets a lost link: its registrations vanish with it, its agents
// stay logged in (the desktop reconnects and registers again).
func (s *Server) drop(cl *client) {
	s.mu.Lock()
	delete(s.clients, cl.conn)
	for dn := range cl.dns {
		delete(s.regs[dn], cl)
	}
	s.mu.Unlock()
	cl.q.Close()
}

func (s *Server) handle(m Member, c *link.Conn, req wire.Message) {
	cl := s.client(m, c)
	if cl == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	ans := s.dispatch(cl, req)
	s.log.Debug("request", "member", m.String(), "peer", c.RemoteAddr().String(), "request", req.String(), "answer", ans.String())
	cl.send(ans)
	s.observe(m.String(), ans)
}

// observe hands an emitted event to the observer; s.mu is held.
func (s *Server) observe(member string, m wire.Message) {
	if s.opts.OnEvent != nil {
		s.opts.OnEvent(Event{Site: s.opts.Site, Member: member, Msg: m})
	}
}

// broadcast sends an unsolicited event to every link that registered dn
// except one (the requester, which gets the answer instead); s.mu is held.
func (s *Server) broadcast(dn string, m wire.Message, except *client) {
	m.RefID = 0
	for cl := range s.regs[dn] {
		if cl != except {
			cl.send(m)
		}
	}
}

// emit sends an unsolicited event to every link that registered dn and
// observes it; s.mu is held.
func (s *Server) emit(dn string, m wire.Message) {
	s.broadcast(dn, m, nil)
	s.observe("", m)
}

// siteDNs lists the DNs of this site in the directory, sorted.
func (s *Server) siteDNs() []string {
	var out []string
	for _, p := range s.opts.Dir.Persons() {
		if dn := p.DNs[s.opts.Site-1]; dn != "" {
			out = append(out, dn)
		}
	}
	sort.Strings(out)
	return out
}

func (s *Server) knownDN(dn string) bool {
	_, ok := s.opts.Dir.DN(s.opts.Site, dn)
	return ok
}
