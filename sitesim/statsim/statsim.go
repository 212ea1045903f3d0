// Package statsim simulates one site's Stat Server HA pair: two link.Servers,
// primary and backup, that open agent statistics and push their values. The
// values come from a getter (the simulated T-Server's counters), polled at an
// interval; a statistic's value is pushed when it is opened and whenever it
// changes (see docs/protocol-services.md).
package statsim

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/tandem-softphone/tandem/link"
	"github.com/tandem-softphone/tandem/statserv"
	"github.com/tandem-softphone/tandem/wire"
)

// maxStatsPerLink bounds what one client can make the server poll.
const maxStatsPerLink = 1024

// Getter returns an agent's current value of a statistic; ok is false when
// there is no such agent.
type Getter func(agentID, statType string) (value int64, ok bool)

// Options configure a Pair.
type Options struct {
	Site        int    // 1 or 2, for names and logs
	PrimaryAddr string // host:port; ":0" ports allowed
	BackupAddr  string
	// Link configures both servers' links; Handler is set by the Pair.
	Link  link.Options
	TLS   *tls.Config
	Value Getter
	// Interval is how often the open statistics are polled (default 1 s).
	Interval time.Duration
}

type stat struct {
	typ, agent string
	last       int64
	active     bool // its first value has been sent: the poller may push changes
}

type session struct {
	member int // index into Pair.servers: whose blackhole silences it
	stats  map[int64]*stat
}

// Pair is the simulated Stat Server pair of one site.
type Pair struct {
	opts    Options
	log     *slog.Logger
	servers [2]*link.Server // primary, backup

	mu       sync.Mutex
	sessions map[*link.Conn]*session

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New prepares a pair; Start listens.
func New(opts Options) *Pair {
	if opts.Link.Logger == nil {
		opts.Link.Logger = slog.Default()
	}
	if opts.Link.AppName == "" {
		opts.Link.AppName = fmt.Sprintf("StatServer_site%d", opts.Site)
	}
	if opts.Interval <= 0 {
		opts.Interval = time.Second
	}
	return &Pair{opts: opts, log: opts.Link.Logger.With("statsim", opts.Site), sessions: map[*link.Conn]*session{}}
}

// Start listens on both addresses and starts polling.
func (p *Pair) Start() error {
	for i, addr := range []string{p.opts.PrimaryAddr, p.opts.BackupAddr} {
		s, err := p.listen(i, addr)
		if err != nil {
			p.Close()
			return fmt.Errorf("site %d stat server %s: %w", p.opts.Site, role(i), err)
		}
		p.servers[i] = s
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	p.wg.Add(1)
	go p.poll(ctx)
	return nil
}

func role(member int) string {
	if member == 0 {
		return "primary"
	}
	return "backup"
}

func (p *Pair) listen(member int, addr string) (*link.Server, error) {
	lo := p.opts.Link
	lo.Handler = func(c *link.Conn, m wire.Message) { p.handle(member, c, m) }
	return link.Listen(link.ServerOptions{
		Addr: addr,
		Link: lo,
		TLS:  p.opts.TLS,
		Info: func() wire.KVList {
			r := role(member)
			// A backup whose primary is down announces itself primary, as
			// one that took over does.
			if member == 1 && p.servers[0].Mode() != link.Up {
				r = "primary"
			}
			return wire.KVList{}.Add(wire.AttrServerRole, r)
		},
		OnConn: func(c *link.Conn) {
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				<-c.Done()
				p.mu.Lock()
				delete(p.sessions, c)
				p.mu.Unlock()
			}()
		},
	})
}

// Close stops polling and both servers.
func (p *Pair) Close() {
	if p.cancel != nil {
		p.cancel()
	}
	for _, s := range p.servers {
		if s != nil {
			s.Close()
		}
	}
	p.wg.Wait()
}

// Primary is the primary server, for fault injection with SetMode.
func (p *Pair) Primary() *link.Server { return p.servers[0] }

// Backup is the backup server.
func (p *Pair) Backup() *link.Server { return p.servers[1] }

// Addrs returns the bound addresses.
func (p *Pair) Addrs() (primary, backup string) { return p.servers[0].Addr(), p.servers[1].Addr() }

// OpenStatistics counts the statistics open on all links.
func (p *Pair) OpenStatistics() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, s := range p.sessions {
		n += len(s.stats)
	}
	return n
}

func (p *Pair) handle(member int, c *link.Conn, m wire.Message) {
	switch m.Name {
	case wire.RequestOpenStatistic:
		p.open(member, c, m)
	case wire.RequestCloseStatistic:
		p.send(c, p.closeStat(c, m))
	default:
		p.send(c, link.ErrorAnswer(m, wire.ErrCodeUnknownRequest, fmt.Sprintf("unknown request %s", m.Name)))
	}
}

func (p *Pair) send(c *link.Conn, m wire.Message) {
	if err := c.Send(m); err != nil {
		p.log.Debug("not sent", "msg", m.Name, "err", err)
	}
}

func known(typ string) bool {
	return typ == statserv.StatCallsHandledToday || typ == statserv.StatLoginTimeToday
}

func (p *Pair) open(member int, c *link.Conn, m wire.Message) {
	typ := m.Attrs.String(wire.AttrStatisticType)
	agent := m.Attrs.String(wire.AttrObjectID)
	if !known(typ) {
		p.send(c, link.ErrorAnswer(m, wire.ErrCodeInvalidAttribute, fmt.Sprintf("unknown StatisticType %q", typ)))
		return
	}
	v, ok := p.opts.Value(agent, typ)
	if !ok {
		p.send(c, link.ErrorAnswer(m, wire.ErrCodeNotFound, fmt.Sprintf("no %s for object %q", typ, agent)))
		return
	}
	id, asked := m.Attrs.Int(wire.AttrStatisticID)
	if _, present := m.Attrs.Get(wire.AttrStatisticID); present && !asked {
		p.send(c, link.ErrorAnswer(m, wire.ErrCodeInvalidAttribute, "StatisticID must be an int"))
		return
	}
	p.mu.Lock()
	s := p.sessions[c]
	if s == nil {
		s = &session{member: member, stats: map[int64]*stat{}}
		p.sessions[c] = s
	}
	if !asked {
		for id = int64(len(s.stats)) + 1; s.stats[id] != nil; id++ {
		}
	}
	old := s.stats[id]
	var refuse string
	switch {
	case old != nil && (old.typ != typ || old.agent != agent):
		refuse = fmt.Sprintf("StatisticID %d is in use by %s of %q", id, old.typ, old.agent)
	case old == nil && len(s.stats) >= maxStatsPerLink:
		refuse = fmt.Sprintf("more than %d statistics open on this link", maxStatsPerLink)
	}
	st := &stat{typ: typ, agent: agent, last: v}
	if refuse == "" {
		// Opening an open statistic again is answered again: a client that
		// lost the answer retries.
		s.stats[id] = st
	}
	p.mu.Unlock()
	if refuse != "" {
		p.send(c, link.ErrorAnswer(m, wire.ErrCodeInvalidAttribute, refuse))
		return
	}
	p.send(c, wire.Message{Name: wire.EventStatisticOpened, RefID: m.RefID, Attrs: wire.KVList{}.
		Add(wire.AttrStatisticID, id).
		Add(wire.AttrStatisticType, typ).
		Add(wire.AttrObjectID, agent)})
	p.send(c, info(id, st, v))
	// Only now may the poller push: a change it saw earlier would otherwise
	// overtake this first value.
	p.mu.Lock()
	st.active = true
	p.mu.Unlock()
}

func info(id int64, s *stat, v int64) wire.Message {
	return wire.Message{Name: wire.EventStatisticInfo, Attrs: wire.KVList{}.
		Add(wire.AttrStatisticID, id).
		Add(wire.AttrStatisticType, s.typ).
		Add(wire.AttrObjectID, s.agent).
		Add(wire.AttrStatValue, v)}
}

func (p *Pair) closeStat(c *link.Conn, m wire.Message) wire.Message {
	id, ok := m.Attrs.Int(wire.AttrStatisticID)
	if !ok {
		return link.ErrorAnswer(m, wire.ErrCodeInvalidAttribute, "StatisticID (int) is missing")
	}
	p.mu.Lock()
	s := p.sessions[c]
	found := s != nil && s.stats[id] != nil
	if found {
		delete(s.stats, id)
	}
	p.mu.Unlock()
	if !found {
		return link.ErrorAnswer(m, wire.ErrCodeNotFound, fmt.Sprintf("StatisticID %d is not open", id))
	}
	return wire.Message{Name: wire.EventStatisticClosed, RefID: m.RefID, Attrs: wire.KVList{}.Add(wire.AttrStatisticID, id)}
}

func (p *Pair) poll(ctx context.Context) {
	defer p.wg.Done()
	t := time.NewTicker(p.opts.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			p.pushChanges()
		}
	}
}

type polled struct {
	c   *link.Conn
	id  int64
	s   *stat
	val int64
	ok  bool
}

// pushChanges sends the values that changed since last sent. A blackholed
// member stays silent, so its clients notice it by keep-alive only.
func (p *Pair) pushChanges() {
	var work []polled
	p.mu.Lock()
	for c, sess := range p.sessions {
		if p.servers[sess.member].Mode() != link.Up {
			continue
		}
		for id, s := range sess.stats {
			if s.active {
				work = append(work, polled{c: c, id: id, s: s})
			}
		}
	}
	p.mu.Unlock()
	// The getter runs without the lock: it belongs to another component.
	for i := range work {
		work[i].val, work[i].ok = p.opts.Value(work[i].s.agent, work[i].s.typ)
	}
	// Per link in ID order, so a client sees one pass's changes in a known order.
	sort.Slice(work, func(i, j int) bool { return work[i].id < work[j].id })
	var out []polled
	p.mu.Lock()
	for _, w := range work {
		sess := p.sessions[w.c]
		if !w.ok || sess == nil || sess.stats[w.id] != w.s || w.s.last == w.val {
			continue
		}
		w.s.last = w.val
		out = append(out, w)
	}
	p.mu.Unlock()
	for _, w := range out {
		p.send(w.c, info(w.id, w.s, w.val))
	}
}
