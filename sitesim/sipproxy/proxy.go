// Package sipproxy is the stateful SIP proxy of a simulated site. It shares
// the site registrar's sockets (registrar.Options.Extend): a Router decides
// where each initial INVITE goes; the proxy record-routes it, so that every
// in-dialog request (ACK, BYE, re-INVITE, REFER, NOTIFY, …) passes through
// it again, relays the responses, forwards CANCEL, and tells the site how
// each call it routed goes (answered, failed, ended), so that the site can
// keep the call's DNs busy.
package sipproxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/tandem-softphone/tandem/sitesim/registrar"
)

// Target is where an initial INVITE goes, or why it does not.
type Target struct {
	// Status, when not 0, refuses the request with this final response.
	Status int
	Reason string // default: the status's usual phrase
	// URI is the Request-URI to forward with.
	URI sip.Uri
	// Addr is the host:port to send to when it is not URI's, as for a
	// binding over TCP, reached on the connection it registered from.
	Addr string
	// Transport is "UDP" (default) or "TCP".
	Transport string
}

// CallEventKind says what happened to a call the proxy routed.
type CallEventKind int

// The kinds of CallEvent. For every initial INVITE the Router sent on, the
// proxy reports CallAnswered or CallFailed once it knows; CallEnded comes
// when a BYE of the dialog has been answered (or timed out).
const (
	CallAnswered CallEventKind = iota + 1
	CallFailed
	CallEnded
)

func (k CallEventKind) String() string {
	switch k {
	case CallAnswered:
		return "answered"
	case CallFailed:
		return "failed"
	case CallEnded:
		return "ended"
	}
	return "CallEventKind(" + strconv.Itoa(int(k)) + ")"
}

// CallEvent reports on a call by its Call-ID.
type CallEvent struct {
	CallID string
	Kind   CallEventKind
	Status int // the final response that decided it; 0 when none came
}

// Router decides where the initial INVITEs go.
type Router interface {
	// Route is called for every initial INVITE (no To tag) addressed to
	// the proxy itself or to no other route. req is read-only.
	Route(req *sip.Request) Target
}

// RouterFunc is a function as a Router.
type RouterFunc func(req *sip.Request) Target

// Route calls f.
func (f RouterFunc) Route(req *sip.Request) Target { return f(req) }

// Options configure a Proxy.
type Options struct {
	Router Router // required
	// OnCall, if set, is told how the calls go. It is called from the
	// request handlers, never with a lock held; it must not block long.
	OnCall func(CallEvent)
	// OnSubscribe, if set, takes the SUBSCRIBEs addressed to the site
	// itself (its voicemail notifier); client sends from the socket they
	// came in on, whose address is self. Without it they are refused
	// with 405.
	OnSubscribe func(req *sip.Request, tx sip.ServerTransaction, client *sipgo.Client, self sip.Uri)
	Logger      *slog.Logger
}

// Proxy routes the calls of one site. Hand its Extend to the registrar.
type Proxy struct {
	opts Options
	log  *slog.Logger
}

// New checks opts and returns a Proxy.
func New(opts Options) (*Proxy, error) {
	if opts.Router == nil {
		return nil, errors.New("sipproxy: a Router is required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Proxy{opts: opts, log: opts.Logger.With("component", "sipproxy")}, nil
}

// requestTimeout bounds setting up a connection for a forwarded request.
const requestTimeout = 5 * time.Second

// stack is one of the registrar's sipgo stacks, with what the proxy needs
// to send from its sockets.
type stack struct {
	p      *Proxy
	client *sipgo.Client
	ip     netip.Addr
	udp    int // port; 0 without UDP
	tcp    int // port; 0 without TCP
	done   <-chan struct{}
}

// Extend adds the proxy's handlers to a registrar stack; it is meant as
// registrar.Options.Extend.
func (p *Proxy) Extend(rs registrar.Stack) {
	client, err := sipgo.NewClient(rs.UA, sipgo.WithClientLogger(p.log))
	if err != nil {
		// NewClient fails only on a bad option; none is given.
		p.log.Error("proxy client", "err", err)
		return
	}
	st := &stack{p: p, client: client, done: rs.Done}
	if rs.UDPAddr != nil {
		st.ip, _ = netip.AddrFromSlice(rs.UDPAddr.IP)
		st.udp = rs.UDPAddr.Port
	}
	if rs.TCPAddr != nil {
		if !st.ip.IsValid() {
			st.ip, _ = netip.AddrFromSlice(rs.TCPAddr.IP)
		}
		st.tcp = rs.TCPAddr.Port
	}
	st.ip = st.ip.Unmap()
	for _, m := range []sip.RequestMethod{
		sip.INVITE, sip.ACK, sip.CANCEL, sip.BYE, sip.PRACK, sip.UPDATE, sip.INFO,
		sip.REFER, sip.NOTIFY, sip.SUBSCRIBE, sip.MESSAGE,
	} {
		rs.Server.OnRequest(m, st.handle)
	}
}

// handle is the handler of every method the proxy takes.
func (st *stack) handle(req *sip.Request, tx sip.ServerTransaction) {
	if req.Via() == nil || req.CSeq() == nil || req.CallID() == nil || req.From() == nil || req.To() == nil {
		st.respond(req, tx, sip.StatusBadRequest, "Missing Mandatory Header")
		return
	}
	switch req.Method {
	case sip.ACK:
		st.forwardAck(req)
	case sip.CANCEL:
		// A CANCEL that matched a pending INVITE never reaches a handler:
		// the transaction layer answers it and cancels the INVITE.
		st.respond(req, tx, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
	default:
		st.forward(req, tx)
	}
}

func (st *stack) respond(req *sip.Request, tx sip.ServerTransaction, status int, reason string) {
	if reason == "" {
		reason = reasonPhrase(status)
	}
	if err := tx.Respond(sip.NewResponseFromRequest(req, status, reason, nil)); err != nil {
		st.p.log.Debug("respond", "status", status, "request", req.StartLine(), "err", err)
	}
}

// hop is where a request goes next.
type hop struct {
	uri       sip.Uri // the Request-URI
	addr      string  // host:port
	transport string  // "UDP" or "TCP"
}

// nextHop pops our own Route entries from req and returns the next hop:
// the first remaining Route, else the Request-URI. self is true when the
// request is addressed to us with no route beyond.
func (st *stack) nextHop(req *sip.Request) (h hop, self bool, err error) {
	routes, err := routeURIs(req)
	if err != nil {
		return hop{}, false, err
	}
	for len(routes) > 0 && st.isSelf(routes[0]) {
		req.RemoveHeader("Route")
		routes = routes[1:]
	}
	target := req.Recipient
	if len(routes) > 0 {
		target = routes[0]
	} else if st.isSelf(req.Recipient) || req.Recipient.Port == 0 && st.isOurHost(req.Recipient) {
		// Our address without a port is the agents' domain (what a phone
		// dials "9000" to when no domain is configured): ours to route,
		// whatever port we listen on.
		return hop{uri: req.Recipient}, true, nil
	}
	h = hop{uri: req.Recipient, transport: "UDP"}
	if tp, ok := target.UriParams.Get("transport"); ok && strings.EqualFold(tp, "tcp") {
		h.transport = "TCP"
	}
	h.addr = hostPort(target)
	return h, false, nil
}

// routeURIs reads the Route header fields in order.
func routeURIs(req *sip.Request) ([]sip.Uri, error) {
	var out []sip.Uri
	for _, h := range req.GetHeaders("Route") {
		if r, ok := h.(*sip.RouteHeader); ok {
			out = append(out, r.Address)
			continue
		}
		var u sip.Uri
		if _, err := sip.ParseAddressValue(h.Value(), &u, nil); err != nil {
			return nil, fmt.Errorf("route %q: %w", h.Value(), err)
		}
		out = append(out, u)
	}
	return out, nil
}

// isSelf reports whether u names this proxy: our address and one of our ports.
func (st *stack) isSelf(u sip.Uri) bool {
	ip, err := netip.ParseAddr(strings.Trim(u.Host, "[]"))
	if err != nil || ip.Unmap() != st.ip {
		return false
	}
	port := u.Port
	if port == 0 {
		port = 5060
	}
	return port == st.udp || port == st.tcp
}

// isOurHost reports whether u names our address, whatever the port: the
// domain of the agents' addresses of record when none is configured.
func (st *stack) isOurHost(u sip.Uri) bool {
	ip, err := netip.ParseAddr(strings.Trim(u.Host, "[]"))
	return err == nil && ip.Unmap() == st.ip
}

// selfURI is our address for a Record-Route over transport.
func (st *stack) selfURI(transport string) sip.Uri {
	port := st.udp
	if transport == "TCP" {
		port = st.tcp
	}
	u := sip.Uri{Scheme: "sip", Host: st.ip.String(), Port: port, UriParams: sip.NewParams()}
	u.UriParams.Add("transport", strings.ToLower(transport))
	u.UriParams.Add("lr", "")
	return u
}

// errNoTransport is a next hop over a transport the site does not listen on.
var errNoTransport = errors.New("no socket for the next hop's transport")

// prepare readies fwd, a copy of a received request, to go to h: a new
// Via on top, Max-Forwards down by one, sent from our socket of the hop's
// transport. source is where the received request came from.
func (st *stack) prepare(fwd *sip.Request, source string, h hop) error {
	if h.transport == "TCP" && st.tcp == 0 || h.transport == "UDP" && st.udp == 0 {
		return fmt.Errorf("%s: %w", h.transport, errNoTransport)
	}
	fwd.Recipient = h.uri
	if mf := fwd.MaxForwards(); mf != nil {
		mf.Dec()
	} else {
		m := sip.MaxForwardsHeader(69)
		fwd.AppendHeader(&m)
	}
	// RFC 3581: tell the previous hop where its request came from.
	if via := fwd.Via(); via != nil && source != "" {
		if v, ok := via.Params.Get("rport"); ok && v == "" {
			if host, port, err := net.SplitHostPort(source); err == nil {
				via.Params.Add("rport", port)
				via.Params.Add("received", host)
			}
		}
	}
	via := &sip.ViaHeader{
		ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: h.transport,
		Host: st.ip.String(), Params: sip.NewParams(),
	}
	via.Params.Add("branch", sip.GenerateBranch())
	fwd.SetTransport(h.transport)
	fwd.SetDestination(h.addr)
	fwd.Laddr = sip.Addr{}
	if h.transport == "UDP" {
		via.Port = st.udp
		// From the listening socket, so that the next hop sees the site's address.
		fwd.Laddr = sip.Addr{IP: st.ip.AsSlice(), Port: st.udp}
	} else {
		via.Port = st.tcp
	}
	fwd.PrependHeader(via)
	return nil
}

// prebuilt is the sipgo client option that adds nothing: the forwarded
// request is complete.
func prebuilt(*sipgo.Client, *sip.Request) error { return nil }

// forward proxies a request statefully and relays its responses.
func (st *stack) forward(req *sip.Request, tx sip.ServerTransaction) {
	p := st.p
	if mf := req.MaxForwards(); mf != nil && mf.Val() == 0 {
		st.respond(req, tx, sip.StatusTooManyHops, "")
		return
	}
	initial := !req.To().Params.Has("tag")
	// The transaction keeps req (it answers CANCEL and sends 100 Trying
	// from it): work on a copy.
	fwd := req.Clone()
	h, self, err := st.nextHop(fwd)
	if err != nil {
		st.respond(req, tx, sip.StatusBadRequest, "Bad Route")
		return
	}
	routed := false
	// A SUBSCRIBE to a user of our domain (our address at any port, as the
	// agents' address of record reads) is for the site's own notifier.
	if req.Method == sip.SUBSCRIBE && p.opts.OnSubscribe != nil && (self || fwd.GetHeader("Route") == nil && st.isOurHost(req.Recipient)) {
		self := st.selfURI(strings.ToUpper(req.Transport()))
		self.UriParams = sip.NewParams()
		if strings.EqualFold(req.Transport(), "TCP") {
			self.UriParams.Add("transport", "tcp")
		}
		p.opts.OnSubscribe(req, tx, st.client, self)
		return
	}
	if self {
		if !initial {
			st.respond(req, tx, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
			return
		}
		if req.Method != sip.INVITE {
			res := sip.NewResponseFromRequest(req, sip.StatusMethodNotAllowed, "Method Not Allowed", nil)
			res.AppendHeader(sip.NewHeader("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER"))
			if err := tx.Respond(res); err != nil {
				p.log.Debug("respond", "status", res.StatusCode, "err", err)
			}
			return
		}
		t := p.opts.Router.Route(fwd)
		if t.Status != 0 {
			st.respond(req, tx, t.Status, t.Reason)
			return
		}
		h = hop{uri: t.URI, addr: t.Addr, transport: strings.ToUpper(t.Transport)}
		if h.transport == "" {
			h.transport = "UDP"
		}
		if h.addr == "" {
			h.addr = hostPort(t.URI)
		}
		routed = true
	}
	if err := st.prepare(fwd, req.Source(), h); err != nil {
		p.log.Info("cannot forward", "request", req.StartLine(), "err", err)
		st.respond(req, tx, sip.StatusServiceUnavailable, "Transport Unavailable")
		if routed {
			p.callEvent(req, CallFailed, sip.StatusServiceUnavailable)
		}
		return
	}
	if initial && (req.Method == sip.INVITE || req.Method == sip.SUBSCRIBE || req.Method == sip.REFER) {
		// Record-Route the dialog: one entry per side when the transports
		// differ (RFC 5658).
		in := strings.ToUpper(req.Transport())
		fwd.PrependHeader(&sip.RecordRouteHeader{Address: st.selfURI(in)})
		if h.transport != in {
			fwd.PrependHeader(&sip.RecordRouteHeader{Address: st.selfURI(h.transport)})
		}
	}
	p.log.Debug("forward", "request", fwd.StartLine(), "to", h.addr, "transport", h.transport, "call-id", req.CallID().Value())
	status := st.relay(req, tx, fwd)
	switch {
	case routed && status >= 200 && status < 300:
		p.callEvent(req, CallAnswered, status)
	case routed:
		p.callEvent(req, CallFailed, status)
	case req.Method == sip.BYE:
		p.callEvent(req, CallEnded, status)
	}
}

// hostPort is the host:port of u, with SIP's default port.
func hostPort(u sip.Uri) string {
	port := u.Port
	if port == 0 {
		port = 5060
	}
	return net.JoinHostPort(strings.Trim(u.Host, "[]"), strconv.Itoa(port))
}

func (p *Proxy) callEvent(req *sip.Request, kind CallEventKind, status int) {
	if p.opts.OnCall != nil {
		p.opts.OnCall(CallEvent{CallID: req.CallID().Value(), Kind: kind, Status: status})
	}
}

// relay sends fwd in a client transaction and passes its responses up
// through tx until the final one, whose status it returns (0 when none
// came). For an INVITE it forwards a CANCEL of tx.
func (st *stack) relay(req *sip.Request, tx sip.ServerTransaction, fwd *sip.Request) int {
	p := st.p
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	ctr, err := st.client.TransactionRequest(ctx, fwd, prebuilt)
	cancel()
	if err != nil {
		p.log.Info("forward failed", "request", fwd.StartLine(), "to", fwd.Destination(), "err", err)
		status, reason := sip.StatusServiceUnavailable, "Next Hop Unreachable"
		if errors.Is(err, sip.ErrUDPMTUCongestion) {
			status, reason = 513, "Message Too Large"
		}
		st.respond(req, tx, status, reason)
		return status
	}
	invite := req.Method == sip.INVITE
	up := func(res *sip.Response) {
		out := res.Clone()
		out.RemoveHeader("Via")
		out.SetSource("")
		out.SetTransport(req.Transport())
		out.SetDestination(req.Source())
		if err := tx.Respond(out); err != nil {
			p.log.Debug("relay response", "response", out.StartLine(), "err", err)
		}
	}
	cancelled := make(chan struct{})
	if invite {
		var once atomic.Bool
		fire := func() {
			if once.CompareAndSwap(false, true) {
				close(cancelled)
			}
		}
		// OnCancel is false when the CANCEL came before we could listen.
		if !tx.OnCancel(func(*sip.Request) { fire() }) {
			fire()
		}
	}
	var (
		provisional   bool // a provisional response came: a CANCEL may go
		wantCancel    bool
		cancelledDown bool
	)
	sendCancel := func() {
		if cancelledDown {
			return
		}
		cancelledDown = true
		go st.cancelDownstream(fwd)
	}
	txDone := tx.Done()
	for {
		select {
		case res := <-ctr.Responses():
			if res.IsProvisional() {
				provisional = true
				if wantCancel {
					sendCancel()
				}
				if res.StatusCode > 100 {
					up(res)
				}
				continue
			}
			if wantCancel && res.IsSuccess() && invite {
				// Answered after the caller gave up: end the callee's dialog.
				go st.hangUpLate(fwd, res)
				return sip.StatusRequestTerminated
			}
			if invite && res.IsSuccess() {
				// RFC 6026: retransmissions of the 2xx pass through too.
				ctr.OnRetransmission(func(r *sip.Response) { up(r) })
			}
			up(res)
			return res.StatusCode
		case <-cancelled:
			cancelled = nil
			wantCancel = true
			if provisional {
				sendCancel()
			}
		case <-ctr.Done():
			status, reason := sip.StatusRequestTimeout, "Request Timeout"
			if errors.Is(ctr.Err(), sip.ErrTransactionTransport) {
				status, reason = sip.StatusServiceUnavailable, "Next Hop Unreachable"
			}
			p.log.Info("forwarded request ended without a final response", "request", fwd.StartLine(), "err", ctr.Err())
			if !wantCancel {
				st.respond(req, tx, status, reason)
			}
			return status
		case <-txDone:
			// The caller's transaction ended (cancelled, or its transport
			// failed): stop waiting for it, keep waiting for the callee.
			txDone = nil
			if invite && !wantCancel {
				wantCancel = true
				if provisional {
					sendCancel()
				}
			}
		case <-st.done:
			ctr.Terminate()
			return 0
		}
	}
}

// cancelDownstream sends a CANCEL for the forwarded INVITE fwd (RFC 3261
// §9.1: the same Request-URI, top Via, Call-ID, From, To, Route and CSeq
// number) and waits for its answer.
func (st *stack) cancelDownstream(fwd *sip.Request) {
	c := sip.NewRequest(sip.CANCEL, fwd.Recipient)
	c.AppendHeader(sip.HeaderClone(fwd.Via()))
	mf := sip.MaxForwardsHeader(70)
	c.AppendHeader(&mf)
	c.AppendHeader(sip.HeaderClone(fwd.From()))
	c.AppendHeader(sip.HeaderClone(fwd.To()))
	c.AppendHeader(sip.HeaderClone(fwd.CallID()))
	c.AppendHeader(&sip.CSeqHeader{SeqNo: fwd.CSeq().SeqNo, MethodName: sip.CANCEL})
	sip.CopyHeaders("Route", fwd, c)
	c.SetBody(nil)
	c.SetTransport(fwd.Transport())
	c.SetDestination(fwd.Destination())
	c.Laddr = fwd.Laddr
	st.await(c, "CANCEL")
}

// hangUpLate acknowledges a 2xx that came after the caller cancelled and
// ends that dialog with a BYE, as a proxy must (RFC 3261 §16.7 step 10).
func (st *stack) hangUpLate(fwd *sip.Request, res *sip.Response) {
	contact := res.Contact()
	if contact == nil {
		st.p.log.Info("late 2xx without Contact: cannot end that dialog", "call-id", fwd.CallID().Value())
		return
	}
	var routes []sip.Uri
	rrs := res.GetHeaders("Record-Route")
	for i := len(rrs) - 1; i >= 0; i-- {
		var u sip.Uri
		if _, err := sip.ParseAddressValue(rrs[i].Value(), &u, nil); err == nil {
			routes = append(routes, u)
		}
	}
	// The route set seen from the caller's side starts with us: drop that.
	for len(routes) > 0 && st.isSelf(routes[0]) {
		routes = routes[1:]
	}
	build := func(m sip.RequestMethod, seq uint32) *sip.Request {
		r := sip.NewRequest(m, contact.Address)
		mf := sip.MaxForwardsHeader(70)
		r.AppendHeader(&mf)
		r.AppendHeader(sip.HeaderClone(fwd.From()))
		r.AppendHeader(sip.HeaderClone(res.To()))
		r.AppendHeader(sip.HeaderClone(fwd.CallID()))
		r.AppendHeader(&sip.CSeqHeader{SeqNo: seq, MethodName: m})
		for _, u := range routes {
			r.AppendHeader(&sip.RouteHeader{Address: u})
		}
		r.SetBody(nil)
		target := contact.Address
		if len(routes) > 0 {
			target = routes[0]
		}
		h := hop{uri: contact.Address, addr: hostPort(target), transport: fwd.Transport()}
		if err := st.prepare(r, "", h); err != nil {
			st.p.log.Info("end a late 2xx", "err", err)
			return nil
		}
		return r
	}
	seq := fwd.CSeq().SeqNo
	ack := build(sip.ACK, seq)
	if ack == nil {
		return
	}
	if err := st.client.WriteRequest(ack, prebuilt); err != nil {
		st.p.log.Info("ACK of a late 2xx", "err", err)
	}
	if bye := build(sip.BYE, seq+1); bye != nil {
		st.await(bye, "BYE of a late 2xx")
	}
}

// await sends a request of the proxy's own and waits for its final answer.
func (st *stack) await(r *sip.Request, what string) {
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	ctr, err := st.client.TransactionRequest(ctx, r, prebuilt)
	cancel()
	if err != nil {
		st.p.log.Info(what, "err", err)
		return
	}
	defer ctr.Terminate()
	for {
		select {
		case res := <-ctr.Responses():
			if !res.IsProvisional() {
				return
			}
		case <-ctr.Done():
			return
		case <-st.done:
			return
		}
	}
}

// forwardAck forwards an ACK to a 2xx statelessly (an ACK to a non-2xx
// belongs to the INVITE's transaction and never gets here).
func (st *stack) forwardAck(req *sip.Request) {
	if mf := req.MaxForwards(); mf != nil && mf.Val() == 0 {
		return
	}
	fwd := req.Clone()
	h, self, err := st.nextHop(fwd)
	if err != nil || self {
		st.p.log.Debug("ACK dropped", "request", req.StartLine(), "err", err)
		return
	}
	if err := st.prepare(fwd, req.Source(), h); err != nil {
		st.p.log.Debug("ACK dropped", "request", req.StartLine(), "err", err)
		return
	}
	if err := st.client.WriteRequest(fwd, prebuilt); err != nil {
		st.p.log.Info("forward ACK", "to", h.addr, "err", err)
	}
}

// reasonPhrase is the usual phrase of the statuses the proxy makes itself.
func reasonPhrase(status int) string {
	switch status {
	case sip.StatusBadRequest:
		return "Bad Request"
	case sip.StatusNotFound:
		return "Not Found"
	case sip.StatusTemporarilyUnavailable:
		return "Temporarily Unavailable"
	case sip.StatusTooManyHops:
		return "Too Many Hops"
	case sip.StatusBusyHere:
		return "Busy Here"
	case sip.StatusServiceUnavailable:
		return "Service Unavailable"
	}
	return "Status " + strconv.Itoa(status)
}
