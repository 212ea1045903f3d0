// Package tserver is the desktop's client of one site's T-Server HA pair: agent
// login and state, DN registration and DN events, and the telephony service
// status that the continuity engine watches (BC-13). Primary→backup failover
// happens below it, in link.HA, and is invisible here (BC-4).
package tserver

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

// Link-status events, made by the client itself as in T-Lib: the telephony
// service went ON (EventLinkConnected) or OFF (EventLinkDisconnected).
const (
	EventLinkConnected    = "EventLinkConnected"
	EventLinkDisconnected = "EventLinkDisconnected"
)

// Options configure a Client.
type Options struct {
	Name    string // the site, for logs and errors: "site1"
	Primary string // host:port
	Backup  string // host:port, optional
	Link    link.Options
	// RequestTimeout bounds a request whose context has no deadline (default 10 s).
	RequestTimeout         time.Duration
	MinBackoff, MaxBackoff time.Duration
	// OnEvent receives every event, in order, on a goroutine of its own.
	OnEvent func(Event)
}

// Event is a T-Server event for one of the registered DNs, or a link-status event.
type Event struct {
	Name       string // wire.EventAgentLogout, EventLinkConnected, …
	DN         string
	AgentID    string
	State      string // AgentState when the event carries or implies it
	WorkMode   int64
	ReasonCode string // from Extensions, else Reasons (BC-16..BC-19)
	Msg        wire.Message
}

// Client talks to one site's T-Server pair.
type Client struct {
	opts Options
	ha   *link.HA
	q    *link.Queue[Event]
	log  *slog.Logger

	mu  sync.Mutex
	dns map[string]bool // registered DNs, registered again on every new link
}

// New prepares a client; Start connects it.
func New(opts Options) *Client {
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = 10 * time.Second
	}
	if opts.Link.Logger == nil {
		opts.Link.Logger = slog.Default()
	}
	c := &Client{opts: opts, dns: map[string]bool{}, log: opts.Link.Logger.With("tserver", opts.Name)}
	c.q = link.NewQueue(func(e Event) {
		if opts.OnEvent != nil {
			opts.OnEvent(e)
		}
	})
	lo := opts.Link
	lo.Handler = func(_ *link.Conn, m wire.Message) { c.q.Put(eventOf(m)) }
	lo.AnswersToHandler = true // an agent's own login is an event like a supervisor's
	c.ha = link.NewHA(link.HAOptions{
		Name:       opts.Name + " T-Server",
		Primary:    opts.Primary,
		Backup:     opts.Backup,
		Link:       lo,
		MinBackoff: opts.MinBackoff,
		MaxBackoff: opts.MaxBackoff,
		OnConnect:  c.reregister,
		OnStatus:   c.onStatus,
	})
	return c
}

// Start connects in the background.
func (c *Client) Start(ctx context.Context) { c.ha.Start(ctx) }

// Close disconnects and stops event delivery.
func (c *Client) Close() {
	c.ha.Close()
	c.q.Close()
}

// Status is the telephony service status: ON while either member answers.
func (c *Client) Status() link.Status { return c.ha.Status() }

// Member is the address of the member currently serving ("" when none).
func (c *Client) Member() string { return c.ha.Member() }

func (c *Client) onStatus(s link.Status) {
	name := EventLinkDisconnected
	if s == link.On {
		name = EventLinkConnected
	}
	c.q.Put(Event{Name: name, Msg: wire.Message{Name: name, Attrs: wire.KVList{}.Add("Server", c.ha.Member())}})
}

// reregister runs on every new link, before it is used: the DNs registered
// before are registered again, so that a primary→backup move goes unseen.
func (c *Client) reregister(ctx context.Context, conn *link.Conn) error {
	c.mu.Lock()
	dns := make([]string, 0, len(c.dns))
	for dn := range c.dns {
		dns = append(dns, dn)
	}
	c.mu.Unlock()
	for _, dn := range dns {
		// The answer, EventRegistered with the DN's current state, reaches
		// OnEvent like every answer: the state may have moved while down.
		if _, err := conn.Request(ctx, wire.Message{Name: wire.RequestRegisterAddress, Attrs: wire.KVList{}.Add(wire.AttrThisDN, dn)}); err != nil {
			return fmt.Errorf("register %s again: %w", dn, err)
		}
	}
	return nil
}

func (c *Client) request(ctx context.Context, name string, attrs wire.KVList) (wire.Message, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.opts.RequestTimeout)
		defer cancel()
	}
	ans, err := c.ha.Request(ctx, wire.Message{Name: name, Attrs: attrs})
	if err != nil {
		return ans, fmt.Errorf("%s: %w", c.opts.Name, err)
	}
	return ans, nil
}

// AddressInfo is a DN's state as the T-Server reports it.
type AddressInfo struct {
	DN        string
	AgentID   string
	State     string // wire.StateLoggedOut, StateReady, …
	WorkMode  int64
	Place     string
	Reason    string // the NotReady reason code, if any
	InService bool   // the DN's phone is registered at this site
}

func addressInfo(m wire.Message) AddressInfo {
	wm, _ := m.Attrs.Int(wire.AttrAgentWorkMode)
	return AddressInfo{
		DN:        m.Attrs.String(wire.AttrThisDN),
		AgentID:   m.Attrs.String(wire.AttrAgentID),
		State:     m.Attrs.String(wire.AttrAgentState),
		WorkMode:  wm,
		Place:     m.Attrs.String(wire.AttrPlace),
		Reason:    reasonCode(m.Attrs),
		InService: m.Attrs.String(wire.AttrDNStatus) != wire.DNStatusOutOfService,
	}
}

// RegisterAddress registers dn for its events; it is registered again after
// every reconnect until UnregisterAddress.
func (c *Client) RegisterAddress(ctx context.Context, dn string) (AddressInfo, error) {
	ans, err := c.request(ctx, wire.RequestRegisterAddress, wire.KVList{}.Add(wire.AttrThisDN, dn))
	if err != nil {
		return AddressInfo{}, fmt.Errorf("register DN %s: %w", dn, err)
	}
	c.mu.Lock()
	c.dns[dn] = true
	c.mu.Unlock()
	return addressInfo(ans), nil
}

// UnregisterAddress stops the events of dn.
func (c *Client) UnregisterAddress(ctx context.Context, dn string) error {
	c.mu.Lock()
	delete(c.dns, dn)
	c.mu.Unlock()
	if _, err := c.request(ctx, wire.RequestUnregisterAddress, wire.KVList{}.Add(wire.AttrThisDN, dn)); err != nil {
		return fmt.Errorf("unregister DN %s: %w", dn, err)
	}
	return nil
}

// Login is what RequestAgentLogin carries.
type Login struct {
	DN       string
	Place    string
	AgentID  string
	Password string
	WorkMode int64
	Queue    string
}

// AgentLogin logs the agent in at dn.
func (c *Client) AgentLogin(ctx context.Context, l Login) (AddressInfo, error) {
	attrs := wire.KVList{}.
		Add(wire.AttrThisDN, l.DN).
		Add(wire.AttrPlace, l.Place).
		Add(wire.AttrAgentID, l.AgentID).
		Add(wire.AttrAgentWorkMode, l.WorkMode)
	if l.Password != "" {
		attrs = attrs.Add(wire.AttrPassword, l.Password)
	}
	if l.Queue != "" {
		attrs = attrs.Add(wire.AttrThisQueue, l.Queue)
	}
	ans, err := c.request(ctx, wire.RequestAgentLogin, attrs)
	if err != nil {
		return AddressInfo{}, fmt.Errorf("log agent %s in at %s: %w", l.AgentID, l.DN, err)
	}
	return addressInfo(ans), nil
}

// AgentLogout logs the agent at dn out (a manual logout, BC-16).
func (c *Client) AgentLogout(ctx context.Context, dn string) error {
	if _, err := c.request(ctx, wire.RequestAgentLogout, wire.KVList{}.Add(wire.AttrThisDN, dn)); err != nil {
		return fmt.Errorf("log out at %s: %w", dn, err)
	}
	return nil
}

// AgentReady makes the agent at dn Ready.
func (c *Client) AgentReady(ctx context.Context, dn string) error {
	attrs := wire.KVList{}.Add(wire.AttrThisDN, dn).Add(wire.AttrAgentWorkMode, int64(wire.WorkModeManualIn))
	if _, err := c.request(ctx, wire.RequestAgentReady, attrs); err != nil {
		return fmt.Errorf("ready at %s: %w", dn, err)
	}
	return nil
}

// AgentNotReady makes the agent at dn NotReady with a reason code; workMode is
// wire.WorkModeAuxWork or wire.WorkModeAfterCallWork.
func (c *Client) AgentNotReady(ctx context.Context, dn string, workMode int64, reason string) error {
	attrs := wire.KVList{}.Add(wire.AttrThisDN, dn).Add(wire.AttrAgentWorkMode, workMode)
	if reason != "" {
		attrs = attrs.Add(wire.AttrReasons, wire.KVList{}.Add(wire.AttrReasonCode, reason))
	}
	if _, err := c.request(ctx, wire.RequestAgentNotReady, attrs); err != nil {
		return fmt.Errorf("not ready at %s: %w", dn, err)
	}
	return nil
}

// QueryAddress asks for dn's current state.
func (c *Client) QueryAddress(ctx context.Context, dn string) (AddressInfo, error) {
	ans, err := c.request(ctx, wire.RequestQueryAddress, wire.KVList{}.Add(wire.AttrThisDN, dn))
	if err != nil {
		return AddressInfo{}, fmt.Errorf("query DN %s: %w", dn, err)
	}
	return addressInfo(ans), nil
}

// PrivateService sends a private request: what the standard requests lack.
func (c *Client) PrivateService(ctx context.Context, dn string, id int64, ext wire.KVList) (wire.KVList, error) {
	attrs := wire.KVList{}.Add(wire.AttrThisDN, dn).Add(wire.AttrPrivateMsgID, id)
	if ext != nil {
		attrs = attrs.Add(wire.AttrExtensions, ext)
	}
	ans, err := c.request(ctx, wire.RequestPrivateService, attrs)
	if err != nil {
		return nil, fmt.Errorf("private service %d: %w", id, err)
	}
	return ans.Attrs.List(wire.AttrExtensions), nil
}

// IsRefused tells whether err is the T-Server's refusal with the given error code.
func IsRefused(err error, code int64) bool {
	var re *link.RemoteError
	return errors.As(err, &re) && re.Code == code
}

func eventOf(m wire.Message) Event {
	wm, _ := m.Attrs.Int(wire.AttrAgentWorkMode)
	e := Event{
		Name:       m.Name,
		DN:         m.Attrs.String(wire.AttrThisDN),
		AgentID:    m.Attrs.String(wire.AttrAgentID),
		State:      m.Attrs.String(wire.AttrAgentState),
		WorkMode:   wm,
		ReasonCode: reasonCode(m.Attrs),
		Msg:        m,
	}
	if e.State == "" {
		e.State = impliedState(m.Name, wm)
	}
	return e
}

// impliedState is the agent state an event implies when it does not say.
func impliedState(name string, workMode int64) string {
	switch name {
	case wire.EventAgentLogout:
		return wire.StateLoggedOut
	case wire.EventAgentReady:
		return wire.StateReady
	case wire.EventAgentLogin:
		if workMode == wire.WorkModeAutoIn {
			return wire.StateReady
		}
		return wire.StateNotReady
	case wire.EventAgentNotReady:
		if workMode == wire.WorkModeAfterCallWork {
			return wire.StateAfterCallWork
		}
		return wire.StateNotReady
	}
	return ""
}

// reasonCode reads ReasonCode from Extensions first (where SIP Server puts
// dr-force_logout and graceful_shutdown_logout), then from Reasons.
func reasonCode(a wire.KVList) string {
	if rc := a.List(wire.AttrExtensions).String(wire.AttrReasonCode); rc != "" {
		return rc
	}
	return a.List(wire.AttrReasons).String(wire.AttrReasonCode)
}
