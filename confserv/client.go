// Package confserv is the desktop's client of one site's Config Server Proxy
// HA pair: it authenticates the agent, reads the Person, Application, Place
// and DN objects the desktop needs (BC-7, BC-8, BC-10), and exposes the
// configuration service status (BC-14). Primary→backup failover happens below
// it, in link.HA, and the session is re-established on every new link, so the
// move is invisible here (BC-4).
package confserv

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/tandem-softphone/tandem/link"
	"github.com/tandem-softphone/tandem/wire"
)

// Errors a caller can test for with errors.Is.
var (
	// ErrAuth: the server refused the user name or the password.
	ErrAuth = errors.New("wrong user name or password")
	// ErrUnknownApplication: the server does not know the application name.
	ErrUnknownApplication = errors.New("unknown application")
	// ErrNotFound: no such object, or not one this person may read.
	ErrNotFound = errors.New("configuration object not found")
)

// Options configure a Client.
type Options struct {
	Name    string // the site, for logs and errors: "site1"
	Primary string // host:port
	Backup  string // host:port, optional
	Link    link.Options
	// UserName and Password authenticate the agent; Password is never logged.
	UserName string
	Password string
	// Application is the name of the site's desktop application object.
	Application string
	// RequestTimeout bounds a request whose context has no deadline (default 10 s).
	RequestTimeout         time.Duration
	MinBackoff, MaxBackoff time.Duration
	// OnStatus is told of every change of the configuration service status,
	// in order, on the connecting goroutine: it must not block.
	OnStatus func(link.Status)
}

// Client talks to one site's Config Server Proxy pair.
type Client struct {
	opts   Options
	ha     *link.HA
	log    *slog.Logger
	cancel context.CancelFunc

	mu      sync.Mutex
	self    Person // from the last EventAuthenticated
	authErr error  // the refusal that stopped the client
}

// New prepares a client; Start connects and authenticates it.
func New(opts Options) *Client {
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = 10 * time.Second
	}
	if opts.Link.Logger == nil {
		opts.Link.Logger = slog.Default()
	}
	if opts.Link.AppName == "" {
		opts.Link.AppName = opts.Application
	}
	c := &Client{opts: opts, log: opts.Link.Logger.With("confserv", opts.Name)}
	c.ha = link.NewHA(link.HAOptions{
		Name:       opts.Name + " Config Server",
		Primary:    opts.Primary,
		Backup:     opts.Backup,
		Link:       opts.Link,
		MinBackoff: opts.MinBackoff,
		MaxBackoff: opts.MaxBackoff,
		OnConnect:  c.authenticate,
		OnStatus:   opts.OnStatus,
	})
	return c
}

// Start connects in the background. A refused authentication stops the
// client for good: retrying a wrong password cannot succeed and may lock the
// account. Authenticated tells the outcome.
func (c *Client) Start(ctx context.Context) {
	ctx, c.cancel = context.WithCancel(ctx)
	c.ha.Start(ctx)
}

// Close disconnects.
func (c *Client) Close() {
	c.ha.Close()
	if c.cancel != nil {
		c.cancel()
	}
}

// Status is the configuration service status: ON while either member
// answers and the session is authenticated (BC-14).
func (c *Client) Status() link.Status { return c.ha.Status() }

// Member is the address of the member currently serving ("" when none).
func (c *Client) Member() string { return c.ha.Member() }

// Authenticated waits for the first connection round to end and returns the
// authenticated person's basic data (no annex: read it with Person). It fails
// with ErrAuth or ErrUnknownApplication when the server refused the login,
// and with link.ErrServiceOff when neither member could be reached (BC-9:
// the caller then tries the other site).
func (c *Client) Authenticated(ctx context.Context) (Person, error) {
	if _, err := c.ha.Conn(ctx); err != nil {
		if aerr := c.authError(); aerr != nil {
			return Person{}, aerr
		}
		return Person{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.self, nil
}

func (c *Client) authError() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.authErr
}

// authenticate runs on every new link before it is used.
func (c *Client) authenticate(ctx context.Context, conn *link.Conn) error {
	ctx, cancel := context.WithTimeout(ctx, c.opts.RequestTimeout)
	defer cancel()
	ans, err := conn.Request(ctx, wire.Message{Name: wire.RequestAuthenticate, Attrs: wire.KVList{}.
		Add(wire.AttrUserName, c.opts.UserName).
		Add(wire.AttrPassword, c.opts.Password).
		Add(wire.AttrApplicationName, c.opts.Application)})
	var re *link.RemoteError
	if errors.As(err, &re) && re.Code == wire.ErrCodeAuthFailed {
		aerr := refusal(c.opts, ans, re)
		c.mu.Lock()
		c.authErr = aerr
		c.mu.Unlock()
		c.log.Error("authentication refused: stopping", "user", c.opts.UserName, "application", c.opts.Application, "err", re.Message)
		c.cancel()
		return aerr
	}
	if err != nil {
		return fmt.Errorf("authenticate %s: %w", c.opts.UserName, err)
	}
	p, err := DecodePerson(ans.Attrs)
	if err != nil {
		return fmt.Errorf("authenticate %s: %s: %w", c.opts.UserName, ans.Name, err)
	}
	c.mu.Lock()
	c.self = p
	c.mu.Unlock()
	c.log.Info("authenticated", "user", p.UserName, "application", c.opts.Application, "member", conn.RemoteAddr().String())
	return nil
}

// refusal turns an authentication's EventError into ErrUnknownApplication,
// when the server names the application as the cause, or else ErrAuth.
func refusal(o Options, ans wire.Message, re *link.RemoteError) error {
	if ans.Attrs.String(wire.AttrObjectType) == wire.ObjectTypeApplication {
		return fmt.Errorf("%s: authenticate with application %q: %w (server: %s)", o.Name, o.Application, ErrUnknownApplication, re.Message)
	}
	return fmt.Errorf("%s: authenticate %q: %w (server: %s)", o.Name, o.UserName, ErrAuth, re.Message)
}

// request sends a read and waits for its answer. Reads are idempotent, so a
// link lost while one is out is not the caller's concern: it is asked again
// on the next link (BC-4).
func (c *Client) request(ctx context.Context, m wire.Message) (wire.Message, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.opts.RequestTimeout)
		defer cancel()
	}
	for {
		conn, err := c.ha.Conn(ctx)
		if err != nil {
			if aerr := c.authError(); aerr != nil {
				return wire.Message{}, aerr
			}
			return wire.Message{}, err
		}
		ans, err := conn.Request(ctx, m)
		var re *link.RemoteError
		switch {
		case err == nil:
			return ans, nil
		case errors.As(err, &re) && re.Code == wire.ErrCodeNotFound:
			return ans, fmt.Errorf("%w: %w", ErrNotFound, err)
		case errors.As(err, &re) || ctx.Err() != nil || !conn.Closed():
			return ans, err
		}
		c.log.Debug("link lost during a read: asking again", "request", m.Name, "err", err)
	}
}

// read fetches one object.
func (c *Client) read(ctx context.Context, typ, name string, extra ...wire.Pair) (wire.KVList, error) {
	attrs := wire.KVList{}.Add(wire.AttrObjectType, typ).Add(wire.AttrObjectName, name)
	attrs = append(attrs, extra...)
	ans, err := c.request(ctx, wire.Message{Name: wire.RequestReadObject, Attrs: attrs})
	if err != nil {
		return nil, fmt.Errorf("read %s %q: %w", typ, name, err)
	}
	obj, ok := ans.Attrs.Get(wire.AttrObject)
	l, isList := obj.(wire.KVList)
	if !ok || !isList {
		return nil, fmt.Errorf("read %s %q: %w: %s without an %s list", typ, name, ErrBadObject, ans.Name, wire.AttrObject)
	}
	if got := ans.Attrs.String(wire.AttrObjectType); got != typ {
		return nil, fmt.Errorf("read %s %q: %w: answer is of type %q", typ, name, ErrBadObject, got)
	}
	return l, nil
}

// Person reads a person by user name. A bad disaster-recovery.timeout is
// logged and counts as unset (see Person.Check).
func (c *Client) Person(ctx context.Context, user string) (Person, error) {
	l, err := c.read(ctx, wire.ObjectTypePerson, user)
	if err != nil {
		return Person{}, err
	}
	p, err := DecodePerson(l)
	if err != nil {
		return Person{}, fmt.Errorf("read person %q: %w", user, err)
	}
	if err := p.Check(); err != nil {
		c.log.Warn("bad option ignored", "err", err)
	}
	return p, nil
}

// Application reads an application object. Bad timeout options are logged
// and count as 0, disabled (BC-7; see Application.Check).
func (c *Client) Application(ctx context.Context, name string) (Application, error) {
	l, err := c.read(ctx, wire.ObjectTypeApplication, name)
	if err != nil {
		return Application{}, err
	}
	a, err := DecodeApplication(l)
	if err != nil {
		return Application{}, fmt.Errorf("read application %q: %w", name, err)
	}
	if err := a.Check(); err != nil {
		c.log.Warn("bad option ignored", "err", err)
	}
	return a, nil
}

// Place reads a place.
func (c *Client) Place(ctx context.Context, name string) (Place, error) {
	l, err := c.read(ctx, wire.ObjectTypePlace, name)
	if err != nil {
		return Place{}, err
	}
	p, err := DecodePlace(l)
	if err != nil {
		return Place{}, fmt.Errorf("read place %q: %w", name, err)
	}
	return p, nil
}

// DNPassword reads the SIP password of one of the authenticated person's own
// DNs at site 1 or 2; any other DN is ErrNotFound.
func (c *Client) DNPassword(ctx context.Context, site int, dn string) (string, error) {
	l, err := c.read(ctx, wire.ObjectTypeDN, dn, wire.Pair{Key: wire.AttrSite, Value: int64(site)})
	if err != nil {
		return "", err
	}
	d, err := DecodeDN(l)
	if err != nil {
		return "", fmt.Errorf("read DN %q: %w", dn, err)
	}
	pw := d.Password()
	if pw == "" {
		return "", fmt.Errorf("read DN %q at site %d: %w: no %s/%s in its annex", dn, site, ErrBadObject, wire.SectionTServer, wire.OptPassword)
	}
	return pw, nil
}
