package sipua

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// DialogState is one SIP dialog (RFC 3261 section 12) as plain values: all
// that is needed to send requests within it and to recognise the peer's.
// The endpoint builds every in-dialog request from it (never from sipgo's
// dialog sessions), so that a call stored as bytes and restored in a fresh
// endpoint carries on the same dialog.
type DialogState struct {
	CallID    string
	LocalTag  string
	RemoteTag string // empty until the peer answered with a tag

	// LocalURI and RemoteURI are the addresses of From and To as our
	// requests carry them (the To and From of requests from the peer).
	LocalURI   string
	LocalName  string
	RemoteURI  string
	RemoteName string

	// LocalCSeq is the CSeq of our last request; RemoteCSeq that of the
	// peer's last, 0 before its first (RFC 3261 section 12.2).
	LocalCSeq  uint32
	RemoteCSeq uint32

	// RouteSet holds the Route URIs our requests carry, in order (the
	// Record-Route of the dialog's first 2xx, reversed on the caller's
	// side).
	RouteSet []string
	// RemoteTarget is the peer's Contact: the Request-URI of our requests.
	RemoteTarget string
	// LocalContact is our Contact, which the peer sends its requests to.
	LocalContact string
	// Transport is "udp", "tcp" or "tls": how requests go when neither the
	// first route nor the target names a transport.
	Transport string
}

// errNoTarget means the dialog has no remote target yet.
var errNoTarget = errors.New("dialog has no remote target")

// nextCSeq moves LocalCSeq on and returns it.
func (d *DialogState) nextCSeq() uint32 {
	d.LocalCSeq++
	return d.LocalCSeq
}

// newRequest builds a request within the dialog with the given CSeq
// number, and returns the host:port and transport of its next hop. Loose
// and strict routers are both followed (RFC 3261 section 12.2.1.1).
func (d *DialogState) newRequest(method sip.RequestMethod, cseq uint32) (*sip.Request, string, string, error) {
	if d.RemoteTarget == "" {
		return nil, "", "", errNoTarget
	}
	var target sip.Uri
	if err := sip.ParseUri(d.RemoteTarget, &target); err != nil {
		return nil, "", "", fmt.Errorf("remote target %q: %w", d.RemoteTarget, err)
	}
	routes := make([]sip.Uri, len(d.RouteSet))
	for i, r := range d.RouteSet {
		if err := sip.ParseUri(r, &routes[i]); err != nil {
			return nil, "", "", fmt.Errorf("route %q: %w", r, err)
		}
	}
	ruri, hop := target, target
	switch {
	case len(routes) == 0:
	case routes[0].UriParams.Has("lr"):
		hop = routes[0]
	default:
		// A strict router takes the request as its Request-URI and
		// the target goes last in the Route header.
		ruri = routes[0]
		ruri.Headers = nil
		routes = append(routes[1:], target)
		hop = ruri
	}
	req := sip.NewRequest(method, ruri)
	for _, r := range routes {
		req.AppendHeader(&sip.RouteHeader{Address: r})
	}
	from, to, err := d.fromTo()
	if err != nil {
		return nil, "", "", err
	}
	req.AppendHeader(from)
	req.AppendHeader(to)
	id := sip.CallIDHeader(d.CallID)
	req.AppendHeader(&id)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: cseq, MethodName: method})
	if method == sip.INVITE || method == sip.REFER || method == sip.NOTIFY || method == sip.UPDATE {
		// Target refresh requests (and NOTIFY, RFC 6665) carry our Contact.
		var contact sip.Uri
		if err := sip.ParseUri(d.LocalContact, &contact); err != nil {
			return nil, "", "", fmt.Errorf("local contact %q: %w", d.LocalContact, err)
		}
		req.AppendHeader(&sip.ContactHeader{Address: contact})
	}
	dest, transport := hopOf(hop, d.Transport)
	return req, dest, transport, nil
}

// fromTo are the From and To headers of our requests.
func (d *DialogState) fromTo() (*sip.FromHeader, *sip.ToHeader, error) {
	var local, remote sip.Uri
	if err := sip.ParseUri(d.LocalURI, &local); err != nil {
		return nil, nil, fmt.Errorf("local URI %q: %w", d.LocalURI, err)
	}
	if err := sip.ParseUri(d.RemoteURI, &remote); err != nil {
		return nil, nil, fmt.Errorf("remote URI %q: %w", d.RemoteURI, err)
	}
	from := &sip.FromHeader{DisplayName: d.LocalName, Address: local, Params: sip.NewParams()}
	from.Params.Add("tag", d.LocalTag)
	to := &sip.ToHeader{DisplayName: d.RemoteName, Address: remote, Params: sip.NewParams()}
	if d.RemoteTag != "" {
		to.Params.Add("tag", d.RemoteTag)
	}
	return from, to, nil
}

// hopOf is where a request for u goes: host:port (the transport's default
// port when u names none) and the transport, by u's transport parameter
// or else def.
func hopOf(u sip.Uri, def string) (string, string) {
	transport := def
	if u.UriParams != nil {
		if t, ok := u.UriParams.Get("transport"); ok && t != "" {
			transport = strings.ToLower(t)
		}
	}
	if u.Scheme == "sips" && transport != TransportTLS {
		transport = TransportTLS
	}
	port := u.Port
	if port == 0 {
		port = sip.DefaultPort(transport)
	}
	return net.JoinHostPort(u.Host, strconv.Itoa(port)), transport
}

// setRouteSet takes the route set from a message's Record-Route headers:
// in order for the callee, reversed for the caller (RFC 3261 12.1).
func (d *DialogState) setRouteSet(msg interface{ GetHeaders(string) []sip.Header }, reverse bool) {
	var set []string
	for _, h := range msg.GetHeaders("Record-Route") {
		if rr, ok := h.(*sip.RecordRouteHeader); ok {
			set = append(set, rr.Address.String())
		}
	}
	if reverse {
		for i, j := 0, len(set)-1; i < j; i, j = i+1, j-1 {
			set[i], set[j] = set[j], set[i]
		}
	}
	d.RouteSet = set
}

// contactURI is the URI of a message's first Contact, "" when it has none.
func contactURI(msg interface{ Contact() *sip.ContactHeader }) string {
	if c := msg.Contact(); c != nil && !c.Address.Wildcard {
		return c.Address.String()
	}
	return ""
}

// dialogKey finds a dialog by Call-ID and our tag.
type dialogKey struct {
	callID, localTag string
}

// tag is the tag parameter of a From or To header, "" when absent.
func tag(params sip.HeaderParams) string {
	v, _ := params.Get("tag")
	return v
}

// toTag is the tag of a response's To, "" when it has none (or no To).
func toTag(res *sip.Response) string {
	if to := res.To(); to != nil {
		return tag(to.Params)
	}
	return ""
}

// keyOfRequest is the dialog an incoming request belongs to, by its
// Call-ID and To tag, and the peer's tag (its From tag).
func keyOfRequest(req *sip.Request) (dialogKey, string, bool) {
	id, from, to := req.CallID(), req.From(), req.To()
	if id == nil || from == nil || to == nil || req.CSeq() == nil {
		return dialogKey{}, "", false
	}
	return dialogKey{callID: string(*id), localTag: tag(to.Params)}, tag(from.Params), true
}

// lockDialogCall finds the call of an in-dialog request and checks the
// request against its dialog; it returns the call locked, or nil once it
// has answered the request (481, or what the check refused it with).
func (e *Endpoint) lockDialogCall(req *sip.Request, tx sip.ServerTransaction) *Call {
	c := e.dialogCall(req)
	if c == nil {
		e.respond(tx, e.response(req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist"))
		return nil
	}
	c.mu.Lock()
	if res := c.checkInDialogLocked(req); res != nil {
		c.mu.Unlock()
		e.respond(tx, res)
		return nil
	}
	return c
}
