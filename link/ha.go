package link

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/tandem-softphone/tandem/wire"
)

// Status is a service's availability as the layers above see it.
type Status int

// A service is On while either member of its HA pair answers, Off only when
// both are unreachable.
const (
	Off Status = iota
	On
)

func (s Status) String() string {
	if s == On {
		return "ON"
	}
	return "OFF"
}

// ErrServiceOff is returned by requests made while both members are unreachable.
var ErrServiceOff = errors.New("service off: primary and backup unreachable")

// HAOptions configure a client of a primary/backup pair.
type HAOptions struct {
	Name    string // for logs and errors, e.g. "site1 T-Server"
	Primary string // host:port
	Backup  string // host:port, optional
	Link    Options
	// MinBackoff and MaxBackoff bound the wait between rounds of failed
	// attempts (defaults 200 ms and 10 s); a round tries both members.
	MinBackoff, MaxBackoff time.Duration
	// OnConnect runs on every new link before it is used and before the
	// status turns On, e.g. to register DNs again after a primary→backup move.
	// An error drops that link and counts as a failed attempt.
	OnConnect func(ctx context.Context, c *Conn) error
	// OnStatus is told of every change of status, in order.
	OnStatus func(Status)
}

// HA keeps one link to whichever member of a pair answers. Within the pair,
// failover is its own business: callers see only Status and, while it is On,
// requests that reach whichever member is up (BC-4).
type HA struct {
	opts HAOptions
	log  *slog.Logger

	mu     sync.Mutex
	conn   *Conn
	member string
	status Status
	known  bool          // false until the first round has ended either way
	ready  chan struct{} // closed while a link is up; replaced when it is lost
	offCh  chan struct{} // closed while Off; replaced when On
	cancel context.CancelFunc
	done   chan struct{}
}

// NewHA prepares a pair client; Start connects it.
func NewHA(opts HAOptions) *HA {
	opts.Link.defaults()
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = 200 * time.Millisecond
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 10 * time.Second
	}
	return &HA{
		opts:  opts,
		log:   opts.Link.Logger.With("service", opts.Name),
		ready: make(chan struct{}),
		offCh: make(chan struct{}),
		done:  make(chan struct{}),
	}
}

// Start begins connecting in the background; status changes are reported through OnStatus.
func (h *HA) Start(ctx context.Context) {
	ctx, h.cancel = context.WithCancel(ctx)
	go h.run(ctx)
}

// Close stops the client and drops its link.
func (h *HA) Close() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	<-h.done
}

// Status reports the current status.
func (h *HA) Status() Status {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.status
}

// Member tells which address the current link goes to ("" when none).
func (h *HA) Member() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.member
}

// Conn waits for a link: during a primary→backup move it returns the new one;
// while the service is Off it fails at once with ErrServiceOff.
func (h *HA) Conn(ctx context.Context) (*Conn, error) {
	for {
		h.mu.Lock()
		c, ready, off := h.conn, h.ready, h.offCh
		h.mu.Unlock()
		if c != nil {
			select {
			case <-c.Done():
				// Being replaced: wait for the next one below.
			default:
				return c, nil
			}
		}
		select {
		case <-ready:
		case <-off:
			return nil, fmt.Errorf("%s: %w", h.opts.Name, ErrServiceOff)
		case <-ctx.Done():
			return nil, fmt.Errorf("%s: %w", h.opts.Name, ctx.Err())
		}
	}
}

// Request sends a request on the current link (see Conn).
func (h *HA) Request(ctx context.Context, m wire.Message) (wire.Message, error) {
	c, err := h.Conn(ctx)
	if err != nil {
		return wire.Message{}, fmt.Errorf("%s: %w", m.Name, err)
	}
	return c.Request(ctx, m)
}

func (h *HA) run(ctx context.Context) {
	defer close(h.done)
	members := []string{h.opts.Primary}
	if h.opts.Backup != "" && h.opts.Backup != h.opts.Primary {
		members = append(members, h.opts.Backup)
	}
	next := 0
	backoff := h.opts.MinBackoff
	for ctx.Err() == nil {
		c, idx, err := h.round(ctx, members, next)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			h.setStatus(Off)
			h.log.Warn("both members unreachable", "err", err, "retry_in", backoff)
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, h.opts.MaxBackoff)
			continue
		}
		backoff = h.opts.MinBackoff
		h.setConn(c, members[idx])
		h.setStatus(On)
		select {
		case <-c.Done():
			h.log.Info("link to member lost", "member", members[idx], "err", c.Err())
		case <-ctx.Done():
			c.Close()
		}
		h.setConn(nil, "")
		// After a loss, start with the other member: the one just lost is the
		// least likely to answer.
		next = (idx + 1) % len(members)
	}
	h.setStatus(Off)
}

// round tries every member once, starting at first.
func (h *HA) round(ctx context.Context, members []string, first int) (*Conn, int, error) {
	var errs []error
	for i := range members {
		idx := (first + i) % len(members)
		c, err := Dial(ctx, members[idx], h.opts.Link)
		if err == nil && h.opts.OnConnect != nil {
			if err = h.opts.OnConnect(ctx, c); err != nil {
				c.Close()
				err = fmt.Errorf("%s: set-up after connect: %w", members[idx], err)
			}
		}
		if err == nil {
			h.log.Info("connected", "member", members[idx], "role", c.Peer().Role)
			return c, idx, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, 0, errors.Join(errs...)
}

func (h *HA) setConn(c *Conn, member string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.conn, h.member = c, member
	if c != nil {
		close(h.ready)
	} else {
		h.ready = make(chan struct{})
	}
}

func (h *HA) setStatus(s Status) {
	h.mu.Lock()
	if h.known && h.status == s {
		h.mu.Unlock()
		return
	}
	h.status, h.known = s, true
	if s == Off {
		close(h.offCh)
	} else {
		h.offCh = make(chan struct{})
	}
	h.mu.Unlock()
	h.log.Info("service status", "status", s)
	if h.opts.OnStatus != nil {
		h.opts.OnStatus(s)
	}
}
