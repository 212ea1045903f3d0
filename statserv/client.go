// Package statserv is the desktop's client of one site's Stat Server HA pair:
// it opens agent statistics, delivers their values as the server pushes them,
// and exposes the statistic service status (BC-15). Primary→backup failover
// happens below it, in link.HA; the open statistics are opened again on every
// new link, so the move is invisible here (BC-4).
package statserv

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/tandem-softphone/tandem/link"
	"github.com/tandem-softphone/tandem/wire"
)

// ErrUnknownStatistic: the server does not know the statistic type, or has
// no such statistic for the object.
var ErrUnknownStatistic = errors.New("unknown statistic")

// Options configure a Client.
type Options struct {
	Name    string // the site, for logs and errors: "site1"
	Primary string // host:port
	Backup  string // host:port, optional
	Link    link.Options
	// RequestTimeout bounds a request whose context has no deadline (default 10 s).
	RequestTimeout         time.Duration
	MinBackoff, MaxBackoff time.Duration
	// OnStatus and OnValue are called in order, on one goroutine of their own:
	// status changes and values arrive in the order they happened.
	OnStatus func(link.Status)
	OnValue  func(Value)
}

// ID identifies an open statistic for the life of the Client, across reconnects.
type ID int64

// Value is one value of an open statistic.
type Value struct {
	ID      ID
	Type    string
	AgentID string
	Value   int64
}

type stat struct {
	typ, agent string
	value      int64
	known      bool
}

// Client talks to one site's Stat Server pair.
type Client struct {
	opts Options
	ha   *link.HA
	q    *link.Queue[func()]
	log  *slog.Logger

	mu    sync.Mutex
	last  ID
	stats map[ID]*stat
}

// New prepares a client; Start connects it.
func New(opts Options) *Client {
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = 10 * time.Second
	}
	if opts.Link.Logger == nil {
		opts.Link.Logger = slog.Default()
	}
	c := &Client{opts: opts, stats: map[ID]*stat{}, log: opts.Link.Logger.With("statserv", opts.Name)}
	c.q = link.NewQueue(func(f func()) { f() })
	lo := opts.Link
	lo.Handler = c.handle
	c.ha = link.NewHA(link.HAOptions{
		Name:       opts.Name + " Stat Server",
		Primary:    opts.Primary,
		Backup:     opts.Backup,
		Link:       lo,
		MinBackoff: opts.MinBackoff,
		MaxBackoff: opts.MaxBackoff,
		OnConnect:  c.reopen,
		OnStatus: func(s link.Status) {
			if opts.OnStatus != nil {
				c.q.Put(func() { opts.OnStatus(s) })
			}
		},
	})
	return c
}

// Start connects in the background.
func (c *Client) Start(ctx context.Context) { c.ha.Start(ctx) }

// Close disconnects and stops the delivery of values.
func (c *Client) Close() {
	c.ha.Close()
	c.q.Close()
}

// Status is the statistic service status: ON while either member answers (BC-15).
func (c *Client) Status() link.Status { return c.ha.Status() }

// Member is the address of the member currently serving ("" when none).
func (c *Client) Member() string { return c.ha.Member() }

func openMsg(id ID, s *stat) wire.Message {
	return wire.Message{Name: wire.RequestOpenStatistic, Attrs: wire.KVList{}.
		Add(wire.AttrStatisticID, int64(id)).
		Add(wire.AttrStatisticType, s.typ).
		Add(wire.AttrObjectID, s.agent)}
}

// Open opens a statistic of an agent. Its values go to OnValue, the first one
// at once (possibly before Open returns), then every change; it stays open
// across reconnects until CloseStat.
func (c *Client) Open(ctx context.Context, statType, agentID string) (ID, error) {
	s := &stat{typ: statType, agent: agentID}
	c.mu.Lock()
	c.last++
	id := c.last
	c.stats[id] = s // before the request: the first value may arrive before the answer
	c.mu.Unlock()
	if _, err := c.request(ctx, openMsg(id, s)); err != nil {
		c.mu.Lock()
		delete(c.stats, id)
		c.mu.Unlock()
		var re *link.RemoteError
		if errors.As(err, &re) && (re.Code == wire.ErrCodeInvalidAttribute || re.Code == wire.ErrCodeNotFound) {
			err = fmt.Errorf("%w: %w", ErrUnknownStatistic, err)
		}
		return 0, fmt.Errorf("%s: open %s of %s: %w", c.opts.Name, statType, agentID, err)
	}
	return id, nil
}

// CloseStat closes a statistic; no value of it is delivered afterwards.
func (c *Client) CloseStat(ctx context.Context, id ID) error {
	c.mu.Lock()
	_, ok := c.stats[id]
	delete(c.stats, id)
	c.mu.Unlock()
	if !ok {
		return nil
	}
	_, err := c.request(ctx, wire.Message{Name: wire.RequestCloseStatistic, Attrs: wire.KVList{}.Add(wire.AttrStatisticID, int64(id))})
	var re *link.RemoteError
	switch {
	case err == nil, errors.Is(err, link.ErrServiceOff), errors.As(err, &re) && re.Code == wire.ErrCodeNotFound:
		// Closed, or gone with its link: a new link does not open it again.
		return nil
	case errors.Is(err, errLinkLost):
		return nil
	}
	return fmt.Errorf("%s: close statistic %d: %w", c.opts.Name, id, err)
}

// Value returns the last value received for id.
func (c *Client) Value(id ID) (int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.stats[id]
	if !ok || !s.known {
		return 0, false
	}
	return s.value, true
}

var errLinkLost = errors.New("link lost before the answer")

// request sends a request and waits for its answer. An open whose link is
// lost meanwhile is sent again on the next link; a close is not (the new link
// does not have the statistic).
func (c *Client) request(ctx context.Context, m wire.Message) (wire.Message, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.opts.RequestTimeout)
		defer cancel()
	}
	retry := m.Name == wire.RequestOpenStatistic // opening an open statistic again is harmless
	for {
		conn, err := c.ha.Conn(ctx)
		if err != nil {
			return wire.Message{}, err
		}
		ans, err := conn.Request(ctx, m)
		var re *link.RemoteError
		switch {
		case err == nil, errors.As(err, &re), ctx.Err() != nil:
			return ans, err
		case !conn.Closed():
			return ans, err
		case !retry:
			return ans, fmt.Errorf("%w: %w", errLinkLost, err)
		}
		c.log.Debug("link lost during a request: asking again", "request", m.Name, "err", err)
	}
}

// reopen runs on every new link before it is used: the statistics open
// before are opened again with the same IDs (BC-15 after an OFF, BC-4).
func (c *Client) reopen(ctx context.Context, conn *link.Conn) error {
	c.mu.Lock()
	ids := make([]ID, 0, len(c.stats))
	msgs := make(map[ID]wire.Message, len(c.stats))
	for id, s := range c.stats {
		ids = append(ids, id)
		msgs[id] = openMsg(id, s)
	}
	c.mu.Unlock()
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	ctx, cancel := context.WithTimeout(ctx, c.opts.RequestTimeout)
	defer cancel()
	for _, id := range ids {
		_, err := conn.Request(ctx, msgs[id])
		var re *link.RemoteError
		if errors.As(err, &re) {
			// This server will not give it; the others are still wanted. It is
			// asked for again after the next reconnect.
			c.log.Warn("statistic refused after reconnect", "id", id, "request", msgs[id].Attrs, "err", re)
			continue
		}
		if err != nil {
			return fmt.Errorf("open statistic %d again: %w", id, err)
		}
		c.mu.Lock()
		_, still := c.stats[id]
		c.mu.Unlock()
		if !still {
			// Closed by CloseStat while being opened here: close it on this link too.
			conn.Request(ctx, wire.Message{Name: wire.RequestCloseStatistic, Attrs: wire.KVList{}.Add(wire.AttrStatisticID, int64(id))})
		}
	}
	return nil
}

// handle receives the server's unsolicited events on the link's read goroutine.
func (c *Client) handle(_ *link.Conn, m wire.Message) {
	if m.Name != wire.EventStatisticInfo {
		c.log.Debug("unexpected message ignored", "msg", m.Name)
		return
	}
	id, okID := m.Attrs.Int(wire.AttrStatisticID)
	v, okV := m.Attrs.Int(wire.AttrStatValue)
	if !okID || !okV {
		c.log.Warn("EventStatisticInfo without an int StatisticID and StatValue: ignored", "attrs", m.Attrs.Redacted())
		return
	}
	c.mu.Lock()
	s, ok := c.stats[ID(id)]
	var val Value
	if ok {
		s.value, s.known = v, true
		val = Value{ID: ID(id), Type: s.typ, AgentID: s.agent, Value: v}
	}
	c.mu.Unlock()
	if ok && c.opts.OnValue != nil {
		c.q.Put(func() { c.opts.OnValue(val) })
	}
}
