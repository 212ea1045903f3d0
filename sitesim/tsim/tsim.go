// Package tsim is the simulated T-Server of one site: one shared state (the
// site's DNs, whether each DN's phone is registered, the agents logged in,
// which links registered which DN) served by an HA pair, a link.ServerPair
// (whose comment tells how the roles move). Requests follow docs/protocol.md
// §7.
package tsim

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/tandem-softphone/tandem/link"
	"github.com/tandem-softphone/tandem/sitesim/directory"
	"github.com/tandem-softphone/tandem/wire"
)

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
	ErrUnknownDN    = errors.New("unknown DN")
	ErrUnknownAgent = errors.New("unknown agent")
	ErrNotLoggedIn  = errors.New("agent not logged in")
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
	opts Options
	log  *slog.Logger
	pair *link.ServerPair[*client]

	mu           sync.Mutex
	regs         map[string]map[*client]bool // DN → links that registered it
	inService    map[string]bool             // DN → its phone is registered at this site
	busy         map[string]bool             // DN → on a call (set by a call layer)
	agents       map[string]*agent           // by DN
	stats        map[string]*agentStats      // by agent id
	shuttingDown bool
}

// client is one link to either member: the pair's session.
type client struct {
	member link.Member
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
		regs:      map[string]map[*client]bool{},
		inService: map[string]bool{},
		busy:      map[string]bool{},
		agents:    map[string]*agent{},
		stats:     map[string]*agentStats{},
	}
	lo := opts.Link
	if lo.AppName == "" {
		lo.AppName = fmt.Sprintf("tsim-site%d", opts.Site)
	}
	if lo.Logger == nil {
		lo.Logger = s.log
	}
	pair, err := link.ListenPair(link.PairOptions[*client]{
		PrimaryAddr: opts.PrimaryAddr,
		BackupAddr:  opts.BackupAddr,
		Link:        lo,
		TLS:         opts.TLS,
		NewSession:  s.newClient,
		Handle:      s.handle,
		EndSession:  s.drop,
	})
	if err != nil {
		return nil, fmt.Errorf("tsim site %d: %w", opts.Site, err)
	}
	s.pair = pair
	return s, nil
}

// Addr is the bound address of a member.
func (s *Server) Addr(m link.Member) string { return s.pair.Addr(m) }

// Mode is a member's fault-injection mode.
func (s *Server) Mode(m link.Member) link.Mode { return s.pair.Mode(m) }

// Role is the role a member announces: "primary" or "backup" (see
// link.ServerPair).
func (s *Server) Role(m link.Member) string { return s.pair.Role(m) }

// Links is the number of live links to a member.
func (s *Server) Links(m link.Member) int { return s.pair.Links(m) }

// SetMode injects a fault into one member (link.Closed or link.Blackhole) or
// ends it (link.Up). The other member takes the primary role if the one
// holding it stops answering.
func (s *Server) SetMode(m link.Member, mode link.Mode) error {
	if err := s.pair.SetMode(m, mode); err != nil {
		return fmt.Errorf("tsim site %d: %w", s.opts.Site, err)
	}
	return nil
}

// Close stops both members and waits for the links to be gone.
func (s *Server) Close() error {
	s.pair.Close()
	return nil
}

// newClient makes the state of a new link; the pair calls it on the link's
// first message.
func (s *Server) newClient(m link.Member, c *link.Conn) *client {
	cl := &client{member: m, dns: map[string]bool{}}
	cl.q = link.NewQueue(func(msg wire.Message) {
		// A blackholed member says nothing, not even unsolicited events.
		if s.pair.Mode(m) == link.Blackhole {
			return
		}
		if err := c.Send(msg); err != nil {
			s.log.Debug("send failed", "peer", c.RemoteAddr().String(), "event", msg.Name, "err", err)
		}
	})
	return cl
}

// drop forgets a lost link: its registrations vanish with it, its agents
// stay logged in (the desktop reconnects and registers again).
func (s *Server) drop(cl *client) {
	s.mu.Lock()
	for dn := range cl.dns {
		delete(s.regs[dn], cl)
	}
	s.mu.Unlock()
	cl.q.Close()
}

func (s *Server) handle(c *link.Conn, cl *client, req wire.Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ans := s.dispatch(cl, req)
	s.log.Debug("request", "member", cl.member.String(), "peer", c.RemoteAddr().String(), "request", req.String(), "answer", ans.String())
	// Observed before it is sent, so that whoever got it finds it logged.
	s.observe(cl.member.String(), ans)
	cl.send(ans)
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
	s.observe("", m)
	s.broadcast(dn, m, nil)
}

func (s *Server) knownDN(dn string) bool {
	_, ok := s.opts.Dir.DN(s.opts.Site, dn)
	return ok
}
