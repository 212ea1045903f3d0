// Package link is the connection layer of the site-services protocol: the
// handshake, ADDP-style keep-alive (BC-5), request/answer correlation by
// ReferenceID, optional TLS, and (in ha.go) a client for a primary/backup pair
// whose failover is invisible above it (BC-4).
package link

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tandem-softphone/tandem/wire"
)

// Errors a caller can test for.
var (
	ErrClosed           = errors.New("link closed")
	ErrKeepAliveTimeout = errors.New("keep-alive: no answer from peer")
	ErrHandshake        = errors.New("handshake failed")
)

// RemoteError is a request's negative answer (EventError).
type RemoteError struct {
	Request string
	Code    int64
	Message string
}

func (e *RemoteError) Error() string {
	return fmt.Sprintf("%s refused: error %d: %s", e.Request, e.Code, e.Message)
}

// Handler receives the messages that are not answers to this side's own
// requests: events on a client, requests on a server. It runs on the
// connection's read goroutine, so messages arrive in order; it must not block.
type Handler func(c *Conn, m wire.Message)

// Options configure one end of a link.
type Options struct {
	// AppName is announced in the handshake.
	AppName string
	// KeepAlive is the local ADDP timeout: after this long without a frame
	// the peer is polled, and if nothing arrives within it again the link is
	// lost. Zero disables polling from this side.
	KeepAlive time.Duration
	// RemoteKeepAlive is the timeout this side asks the peer to poll it with.
	RemoteKeepAlive time.Duration
	// HandshakeTimeout bounds connect plus handshake (default: KeepAlive when
	// set, as a peer that does not answer within it is as dead as one that
	// stops answering polls; otherwise 5 s).
	HandshakeTimeout time.Duration
	// WriteTimeout bounds one frame's write (default 5 s).
	WriteTimeout time.Duration
	// TLS, when set, wraps the connection (client side: Dial).
	TLS *tls.Config
	// Handler receives unsolicited messages.
	Handler Handler
	// AnswersToHandler hands the answers to this side's requests to Handler
	// too, in the order they arrived among the other messages: for a client
	// whose listeners want every event, whoever caused it (T-Lib's model).
	AnswersToHandler bool
	Logger           *slog.Logger

	// drop, when it returns true, makes this end deaf and mute (a server's
	// Blackhole mode): frames received are discarded and no poll is sent.
	drop func() bool
}

func (o *Options) defaults() {
	if o.HandshakeTimeout <= 0 {
		o.HandshakeTimeout = 5 * time.Second
		if o.KeepAlive > 0 {
			o.HandshakeTimeout = o.KeepAlive
		}
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// PeerInfo is what the other end announced in the handshake.
type PeerInfo struct {
	AppName         string
	Role            string        // server side only: "primary" or "backup"
	Version         int64         // protocol version
	KeepAlive       time.Duration // the peer's local timeout
	RemoteKeepAlive time.Duration // the timeout the peer asks us to poll it with
	Attrs           wire.KVList   // the whole handshake message, for extensions
}

// Conn is one established link.
type Conn struct {
	nc   net.Conn
	br   *bufio.Reader // one reader for the handshake and the read loop
	opts Options
	peer PeerInfo
	log  *slog.Logger

	wmu  sync.Mutex
	wbuf []byte

	mu      sync.Mutex
	pending map[uint32]chan wire.Message
	closed  bool
	err     error

	nextRef  atomic.Uint32
	lastRecv atomic.Int64 // unix nanos of the last frame received
	done     chan struct{}
	wg       sync.WaitGroup
}

// Dial connects to addr, performs the client handshake and starts the link.
func Dial(ctx context.Context, addr string, opts Options) (*Conn, error) {
	opts.defaults()
	ctx, cancel := context.WithTimeout(ctx, opts.HandshakeTimeout)
	defer cancel()
	var nc net.Conn
	var err error
	if opts.TLS != nil {
		d := tls.Dialer{Config: opts.TLS}
		nc, err = d.DialContext(ctx, "tcp", addr)
	} else {
		var d net.Dialer
		nc, err = d.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	c, err := Client(ctx, nc, opts)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("connect %s: %w", addr, err)
	}
	return c, nil
}

// Client performs the client handshake on an open connection.
func Client(ctx context.Context, nc net.Conn, opts Options) (*Conn, error) {
	opts.defaults()
	c := newConn(nc, opts)
	hello := wire.Message{Name: wire.RequestRegisterClient, RefID: c.newRef(), Attrs: wire.KVList{}.
		Add(wire.AttrProtocolVersion, int64(wire.Version)).
		Add(wire.AttrApplicationName, opts.AppName).
		Add(wire.AttrAddpLocalTimeout, opts.KeepAlive.Milliseconds()).
		Add(wire.AttrAddpRemoteTimeout, opts.RemoteKeepAlive.Milliseconds())}
	deadline := time.Now().Add(opts.HandshakeTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	nc.SetDeadline(deadline)
	if err := c.write(hello); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrHandshake, err)
	}
	ans, err := wire.ReadFrame(c.br)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrHandshake, err)
	}
	if ans.Name == wire.EventError {
		code, _ := ans.Attrs.Int(wire.AttrErrorCode)
		return nil, fmt.Errorf("%w: %w", ErrHandshake, &RemoteError{Request: hello.Name, Code: code, Message: ans.Attrs.String(wire.AttrErrorMessage)})
	}
	if ans.Name != wire.EventServerInfo || ans.RefID != hello.RefID {
		return nil, fmt.Errorf("%w: unexpected %s ref=%d", ErrHandshake, ans.Name, ans.RefID)
	}
	nc.SetDeadline(time.Time{})
	c.peer = peerInfo(ans.Attrs)
	c.start()
	return c, nil
}

// ServerInfo gives what a server announces in the handshake, asked anew for
// every connection (a backup that took over announces "primary").
type ServerInfo func() wire.KVList

// Accept performs the server handshake on an accepted connection. The peer's
// RemoteKeepAlive, when set, replaces opts.KeepAlive: the client chooses how
// fast a dead client is noticed.
func Accept(nc net.Conn, opts Options, info ServerInfo) (*Conn, error) {
	opts.defaults()
	c := newConn(nc, opts)
	nc.SetDeadline(time.Now().Add(opts.HandshakeTimeout))
	hello, err := wire.ReadFrame(c.br)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrHandshake, err)
	}
	if hello.Name != wire.RequestRegisterClient {
		return nil, fmt.Errorf("%w: first message is %s", ErrHandshake, hello.Name)
	}
	if v, _ := hello.Attrs.Int(wire.AttrProtocolVersion); v != wire.Version {
		c.write(ErrorAnswer(hello, wire.ErrCodeVersion, fmt.Sprintf("protocol version %d not supported, want %d", v, wire.Version)))
		return nil, fmt.Errorf("%w: client speaks version %d", ErrHandshake, v)
	}
	c.peer = peerInfo(hello.Attrs)
	if c.peer.RemoteKeepAlive > 0 {
		c.opts.KeepAlive = c.peer.RemoteKeepAlive
	}
	attrs := wire.KVList{}.
		Add(wire.AttrProtocolVersion, int64(wire.Version)).
		Add(wire.AttrApplicationName, opts.AppName).
		Add(wire.AttrAddpLocalTimeout, c.opts.KeepAlive.Milliseconds())
	if info != nil {
		attrs = append(attrs, info()...)
	}
	if err := c.write(wire.Message{Name: wire.EventServerInfo, RefID: hello.RefID, Attrs: attrs}); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrHandshake, err)
	}
	nc.SetDeadline(time.Time{})
	c.start()
	return c, nil
}

func peerInfo(a wire.KVList) PeerInfo {
	v, _ := a.Int(wire.AttrProtocolVersion)
	l, _ := a.Int(wire.AttrAddpLocalTimeout)
	r, _ := a.Int(wire.AttrAddpRemoteTimeout)
	return PeerInfo{
		AppName:         a.String(wire.AttrApplicationName),
		Role:            a.String(wire.AttrServerRole),
		Version:         v,
		KeepAlive:       clampMillis(l),
		RemoteKeepAlive: clampMillis(r),
		Attrs:           a,
	}
}

// clampMillis turns a peer's millisecond count into a duration, refusing
// negative or absurd values (over a day) that would overflow or disable checks.
func clampMillis(ms int64) time.Duration {
	if ms <= 0 || ms > 24*3600*1000 {
		return 0
	}
	return time.Duration(ms) * time.Millisecond
}

func newConn(nc net.Conn, opts Options) *Conn {
	c := &Conn{
		nc:      nc,
		br:      bufio.NewReaderSize(nc, 16<<10),
		opts:    opts,
		pending: map[uint32]chan wire.Message{},
		done:    make(chan struct{}),
		log:     opts.Logger.With("peer", nc.RemoteAddr().String()),
	}
	c.lastRecv.Store(time.Now().UnixNano())
	return c
}

func (c *Conn) start() {
	c.wg.Add(1)
	go c.readLoop()
	if c.opts.KeepAlive > 0 {
		c.wg.Add(1)
		go c.keepAlive()
	}
}

// Peer returns what the other end announced.
func (c *Conn) Peer() PeerInfo { return c.peer }

// RemoteAddr is the peer's address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// Done is closed when the link is lost or closed.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Closed reports whether the link has ended, closed by this side or lost.
// It turns true as soon as requests start failing with ErrClosed, a moment
// before Done is closed.
func (c *Conn) Closed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// Err tells why the link ended (nil while it is up).
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close ends the link. It is safe to call more than once.
func (c *Conn) Close() error {
	c.fail(ErrClosed)
	c.wg.Wait()
	return nil
}

func (c *Conn) fail(err error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.err = err
	pending := c.pending
	c.pending = nil
	c.mu.Unlock()
	c.nc.Close()
	close(c.done)
	for _, ch := range pending {
		close(ch)
	}
	if !errors.Is(err, ErrClosed) {
		c.log.Info("link lost", "err", err)
	}
}

func (c *Conn) newRef() uint32 {
	for {
		if r := c.nextRef.Add(1); r != 0 {
			return r
		}
	}
}

// Send writes one message.
func (c *Conn) Send(m wire.Message) error {
	select {
	case <-c.done:
		return ErrClosed
	default:
	}
	c.nc.SetWriteDeadline(time.Now().Add(c.opts.WriteTimeout))
	if err := c.write(m); err != nil {
		if !errors.Is(err, wire.ErrTooLarge) {
			c.fail(err)
		}
		return fmt.Errorf("send %s: %w", m.Name, err)
	}
	return nil
}

func (c *Conn) write(m wire.Message) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	var err error
	c.wbuf, err = wire.Append(c.wbuf[:0], m)
	if err != nil {
		return err
	}
	_, err = c.nc.Write(c.wbuf)
	return err
}

// Request sends m with a fresh ReferenceID and waits for the answer that
// carries it. An EventError answer is returned as a *RemoteError.
func (c *Conn) Request(ctx context.Context, m wire.Message) (wire.Message, error) {
	m.RefID = c.newRef()
	ch := make(chan wire.Message, 1)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return wire.Message{}, fmt.Errorf("%s: %w", m.Name, ErrClosed)
	}
	c.pending[m.RefID] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, m.RefID)
		c.mu.Unlock()
	}()
	if err := c.Send(m); err != nil {
		return wire.Message{}, err
	}
	select {
	case ans, ok := <-ch:
		if !ok {
			return wire.Message{}, fmt.Errorf("%s: %w", m.Name, c.closedErr())
		}
		if ans.Name == wire.EventError {
			code, _ := ans.Attrs.Int(wire.AttrErrorCode)
			return ans, &RemoteError{Request: m.Name, Code: code, Message: ans.Attrs.String(wire.AttrErrorMessage)}
		}
		return ans, nil
	case <-ctx.Done():
		return wire.Message{}, fmt.Errorf("%s: no answer: %w", m.Name, ctx.Err())
	}
}

func (c *Conn) closedErr() error {
	if err := c.Err(); err != nil {
		return err
	}
	return ErrClosed
}

func (c *Conn) readLoop() {
	defer c.wg.Done()
	r := c.br
	for {
		m, err := wire.ReadFrame(r)
		if err != nil {
			switch {
			case errors.Is(err, wire.ErrMalformed) || errors.Is(err, wire.ErrTooLarge):
				// Hostile or broken peer: log it and drop the link, nothing else.
				c.log.Error("bad frame from peer: closing link", "err", err)
			case errors.Is(err, io.EOF):
				err = fmt.Errorf("peer closed the link: %w", err)
			}
			c.fail(err)
			return
		}
		if c.opts.drop != nil && c.opts.drop() {
			continue
		}
		c.lastRecv.Store(time.Now().UnixNano())
		switch m.Name {
		case wire.KeepAlivePoll:
			go c.Send(wire.Message{Name: wire.KeepAliveReply, RefID: m.RefID})
			continue
		case wire.KeepAliveReply:
			continue
		}
		if m.RefID != 0 {
			c.mu.Lock()
			ch, ok := c.pending[m.RefID]
			if ok {
				delete(c.pending, m.RefID)
			}
			c.mu.Unlock()
			if ok {
				ch <- m
				if !c.opts.AnswersToHandler || m.Name == wire.EventError {
					continue
				}
			}
		}
		if c.opts.Handler != nil {
			c.opts.Handler(c, m)
		}
	}
}

// keepAlive polls an idle link and declares it lost when a poll goes
// unanswered for the timeout (BC-5). Detection takes between one and two
// timeouts after the last frame received.
func (c *Conn) keepAlive() {
	defer c.wg.Done()
	timeout := c.opts.KeepAlive
	tick := time.NewTicker(timeout / 4)
	defer tick.Stop()
	var polledAt time.Time
	for {
		select {
		case <-c.done:
			return
		case now := <-tick.C:
			if c.opts.drop != nil && c.opts.drop() {
				polledAt = time.Time{}
				c.lastRecv.Store(now.UnixNano())
				continue
			}
			last := time.Unix(0, c.lastRecv.Load())
			if !polledAt.IsZero() && last.Before(polledAt) && now.Sub(polledAt) >= timeout {
				c.fail(fmt.Errorf("%w within %v", ErrKeepAliveTimeout, timeout))
				return
			}
			if now.Sub(last) >= timeout && (polledAt.IsZero() || !last.Before(polledAt)) {
				polledAt = now
				c.Send(wire.Message{Name: wire.KeepAlivePoll, RefID: c.newRef()})
			}
		}
	}
}

// ErrorAnswer builds the EventError answer to req.
func ErrorAnswer(req wire.Message, code int, msg string) wire.Message {
	return wire.Message{Name: wire.EventError, RefID: req.RefID, Attrs: wire.KVList{}.
		Add(wire.AttrErrorCode, int64(code)).
		Add(wire.AttrErrorMessage, msg)}
}
