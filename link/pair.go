package link

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/tandem-softphone/tandem/wire"
)

// Member names one server of an HA pair.
type Member int

// The two members of a pair.
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

// PairOptions configure a ServerPair whose links each carry a session of
// type S.
type PairOptions[S any] struct {
	// PrimaryAddr and BackupAddr are host:port to listen on (":0" allowed).
	PrimaryAddr, BackupAddr string
	// Link configures the server end of both members' links. Its Handler is
	// the pair's own; its Logger (default slog.Default()) is told the member.
	Link Options
	TLS  *tls.Config
	// NewSession makes the session of a link, on the link's first message. It
	// runs with the pair's session lock held: it must not block nor call the
	// pair.
	NewSession func(m Member, c *Conn) S
	// Handle serves one message of a link, on the link's read goroutine (see
	// Handler): messages arrive in order, and it must not block for long.
	Handle func(c *Conn, s S, msg wire.Message)
	// EndSession, optional, is told once that a session's link has ended,
	// after the session has left Sessions.
	EndSession func(s S)
}

// ServerPair is the server side of an HA pair, for the simulators and the
// tests: two Servers, primary and backup, in front of one shared state (hot
// standby). Each member announces its role as ServerRole in the handshake,
// and the roles move as in a real pair:
//
//   - at start the primary member holds the primary role;
//   - when the member holding it stops answering (SetMode Closed or
//     Blackhole) while the other is up, the other takes the primary role;
//   - a member that comes back finds the role taken: a revived primary
//     member announces "backup" until the new primary fails in turn.
//
// Every link has a session of type S, made on its first message and dropped
// when the link ends.
type ServerPair[S any] struct {
	opts    PairOptions[S]
	log     *slog.Logger
	members [2]*Server

	roleMu sync.Mutex
	active Member // the member holding the primary role

	mu       sync.Mutex
	sessions map[*Conn]S
	closed   bool
	wg       sync.WaitGroup
}

// ListenPair starts both members listening.
func ListenPair[S any](opts PairOptions[S]) (*ServerPair[S], error) {
	if opts.PrimaryAddr == "" || opts.BackupAddr == "" {
		return nil, errors.New("server pair: primary and backup addresses are required")
	}
	if opts.NewSession == nil || opts.Handle == nil {
		return nil, errors.New("server pair: NewSession and Handle are required")
	}
	if opts.Link.Logger == nil {
		opts.Link.Logger = slog.Default()
	}
	p := &ServerPair[S]{opts: opts, log: opts.Link.Logger, sessions: map[*Conn]S{}}
	for _, m := range []Member{Primary, Backup} {
		lo := opts.Link
		lo.Logger = opts.Link.Logger.With("member", m.String())
		lo.Handler = func(c *Conn, msg wire.Message) {
			if s, ok := p.session(m, c); ok {
				opts.Handle(c, s, msg)
			}
		}
		addr := opts.PrimaryAddr
		if m == Backup {
			addr = opts.BackupAddr
		}
		srv, err := Listen(ServerOptions{
			Addr: addr,
			Link: lo,
			TLS:  opts.TLS,
			Info: func() wire.KVList { return wire.KVList{}.Add(wire.AttrServerRole, p.Role(m)) },
		})
		if err != nil {
			if m == Backup {
				p.members[Primary].Close()
			}
			return nil, fmt.Errorf("%s: %w", m, err)
		}
		p.members[m] = srv
	}
	return p, nil
}

// session returns the session of link c, made on its first message; false
// once the link or the pair is closed.
func (p *ServerPair[S]) session(m Member, c *Conn) (S, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if s, ok := p.sessions[c]; ok {
		return s, true
	}
	if p.closed || c.Closed() {
		var none S
		return none, false
	}
	s := p.opts.NewSession(m, c)
	p.sessions[c] = s
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		<-c.Done()
		p.mu.Lock()
		delete(p.sessions, c)
		p.mu.Unlock()
		if p.opts.EndSession != nil {
			p.opts.EndSession(s)
		}
	}()
	return s, true
}

// Sessions returns the sessions of the live links, in no particular order.
func (p *ServerPair[S]) Sessions() []S {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]S, 0, len(p.sessions))
	for _, s := range p.sessions {
		out = append(out, s)
	}
	return out
}

// Addr is the bound address of a member.
func (p *ServerPair[S]) Addr(m Member) string { return p.members[m].Addr() }

// Mode is a member's fault-injection mode.
func (p *ServerPair[S]) Mode(m Member) Mode { return p.members[m].Mode() }

// Links is the number of live links to a member.
func (p *ServerPair[S]) Links(m Member) int { return len(p.members[m].Conns()) }

// Role is the role a member announces: "primary" or "backup".
func (p *ServerPair[S]) Role(m Member) string {
	p.roleMu.Lock()
	defer p.roleMu.Unlock()
	if m == p.active {
		return Primary.String()
	}
	return Backup.String()
}

// SetMode injects a fault into a member (Closed or Blackhole) or ends it
// (Up), and moves the primary role as the type's comment says.
func (p *ServerPair[S]) SetMode(m Member, mode Mode) error {
	// No lock is held while the links close: their read loops may be waiting
	// in Handle for a lock of the caller's.
	if err := p.members[m].SetMode(mode); err != nil {
		return fmt.Errorf("%s: set mode %v: %w", m, mode, err)
	}
	p.roleMu.Lock()
	defer p.roleMu.Unlock()
	other := 1 - p.active
	if p.Mode(p.active) != Up && p.Mode(other) == Up {
		p.active = other
		p.log.Info("role change", "primary", other.String())
	}
	return nil
}

// MemberStatus is one member of a pair, for status reports.
type MemberStatus struct {
	Member string `json:"member"` // "primary" or "backup"
	Addr   string `json:"addr"`
	Mode   string `json:"mode"` // "up", "closed", "blackhole"
	Role   string `json:"role"` // the role it announces
	Links  int    `json:"links"`
}

// Members reports both members, primary first.
func (p *ServerPair[S]) Members() []MemberStatus {
	out := make([]MemberStatus, 0, 2)
	for _, m := range []Member{Primary, Backup} {
		out = append(out, MemberStatus{
			Member: m.String(),
			Addr:   p.Addr(m),
			Mode:   p.Mode(m).String(),
			Role:   p.Role(m),
			Links:  p.Links(m),
		})
	}
	return out
}

// Close stops both members and waits until every session has ended.
func (p *ServerPair[S]) Close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	for _, s := range p.members {
		s.Close()
	}
	p.wg.Wait()
}
