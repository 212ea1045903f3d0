// Package statsim simulates one site's Stat Server HA pair: a
// link.ServerPair (whose comment tells how the roles move) that opens agent
// statistics and pushes their values. The values come from a getter (the
// simulated T-Server's counters), polled at an interval; a statistic's value
// is pushed when it is opened and whenever it changes (see
// docs/protocol-services.md).
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

// session is a link's open statistics.
type session struct {
	conn   *link.Conn
	member link.Member // whose blackhole silences it
	stats  map[int64]*stat
}

// Pair is the simulated Stat Server pair of one site.
type Pair struct {
	opts Options
	log  *slog.Logger
	pair *link.ServerPair[*session]

	mu sync.Mutex // guards the sessions' stats

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
	return &Pair{opts: opts, log: opts.Link.Logger.With("statsim", opts.Site)}
}

// Start listens on both addresses and starts polling.
func (p *Pair) Start() error {
	pair, err := link.ListenPair(link.PairOptions[*session]{
		PrimaryAddr: p.opts.PrimaryAddr,
		BackupAddr:  p.opts.BackupAddr,
		Link:        p.opts.Link,
		TLS:         p.opts.TLS,
		NewSession: func(m link.Member, c *link.Conn) *session {
			return &session{conn: c, member: m, stats: map[int64]*stat{}}
		},
		Handle: p.handle,
	})
	if err != nil {
		return fmt.Errorf("site %d stat server: %w", p.opts.Site, err)
	}
	p.pair = pair
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	p.wg.Add(1)
	go p.poll(ctx)
	return nil
}

// Close stops polling and both servers.
func (p *Pair) Close() {
	if p.cancel != nil {
		p.cancel()
	}
	p.wg.Wait()
	if p.pair != nil {
		p.pair.Close()
	}
}

// SetMode injects a fault into a member, or ends it (see link.ServerPair).
func (p *Pair) SetMode(m link.Member, mode link.Mode) error { return p.pair.SetMode(m, mode) }

// Members reports both servers.
func (p *Pair) Members() []link.MemberStatus { return p.pair.Members() }

// Addrs returns the bound addresses.
func (p *Pair) Addrs() (primary, backup string) {
	return p.pair.Addr(link.Primary), p.pair.Addr(link.Backup)
}

// OpenStatistics counts the statistics open on all links.
func (p *Pair) OpenStatistics() int {
	sessions := p.pair.Sessions()
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, s := range sessions {
		n += len(s.stats)
	}
	return n
}

func (p *Pair) handle(c *link.Conn, s *session, m wire.Message) {
	switch m.Name {
	case wire.RequestOpenStatistic:
		p.open(c, s, m)
	case wire.RequestCloseStatistic:
		p.send(c, p.closeStat(s, m))
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
	return typ == wire.StatCallsHandledToday || typ == wire.StatLoginTimeToday
}

func (p *Pair) open(c *link.Conn, s *session, m wire.Message) {
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

func (p *Pair) closeStat(s *session, m wire.Message) wire.Message {
	id, ok := m.Attrs.Int(wire.AttrStatisticID)
	if !ok {
		return link.ErrorAnswer(m, wire.ErrCodeInvalidAttribute, "StatisticID (int) is missing")
	}
	p.mu.Lock()
	found := s.stats[id] != nil
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
	sess *session
	id   int64
	s    *stat
	val  int64
	ok   bool
}

// pushChanges sends the values that changed since last sent. A blackholed
// member stays silent, so its clients notice it by keep-alive only.
func (p *Pair) pushChanges() {
	var work []polled
	sessions := p.pair.Sessions()
	p.mu.Lock()
	for _, sess := range sessions {
		if p.pair.Mode(sess.member) != link.Up {
			continue
		}
		for id, s := range sess.stats {
			if s.active {
				work = append(work, polled{sess: sess, id: id, s: s})
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
		if !w.ok || w.sess.conn.Closed() || w.sess.stats[w.id] != w.s || w.s.last == w.val {
			continue
		}
		w.s.last = w.val
		out = append(out, w)
	}
	p.mu.Unlock()
	for _, w := range out {
		p.send(w.sess.conn, info(w.id, w.s, w.val))
	}
}
