package sipua

import (
	"context"
	"fmt"
	"net"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// request sends a request within the call's dialog, built from its
// DialogState, and returns the final answer. decorate adds the method's
// headers and body; it runs again, on a request with a new CSeq, to
// answer a digest challenge. A 2xx to a re-INVITE is acknowledged here.
func (c *Call) request(method sip.RequestMethod, decorate func(*sip.Request)) (*sip.Response, error) {
	var auth *challenge
	for attempt := 0; ; attempt++ {
		c.mu.Lock()
		req, dest, transport, err := c.dlg.newRequest(method, c.dlg.nextCSeq())
		c.mu.Unlock()
		if err != nil {
			return nil, err
		}
		c.ep.addHeaders(req, method == sip.INVITE)
		if decorate != nil {
			decorate(req)
		}
		if auth != nil {
			if err := authorize(req, *auth, c.reg.acct.AuthUser, c.reg.acct.Password); err != nil {
				return nil, err
			}
		}
		res, tx, err := c.transact(req, dest, transport)
		if err != nil {
			return nil, err
		}
		switch {
		case res.StatusCode == sip.StatusUnauthorized || res.StatusCode == sip.StatusProxyAuthRequired:
			ch, cerr := pickChallenge(res)
			if cerr != nil || attempt >= 2 || attempt > 0 && !ch.Stale {
				return res, nil
			}
			auth = &ch
			continue
		case method == sip.INVITE && res.IsSuccess():
			c.ackInvite(tx, req.CSeq().SeqNo)
		}
		return res, nil
	}
}

// transact sends req to dest and waits at most RequestTimeout for its
// final answer.
func (c *Call) transact(req *sip.Request, dest, transport string) (*sip.Response, sip.ClientTransaction, error) {
	ctx, cancel := context.WithTimeout(context.Background(), c.ep.opts.RequestTimeout)
	defer cancel()
	if err := c.ep.address(ctx, req, c.reg, dest, transport); err != nil {
		return nil, nil, err
	}
	tx, err := c.ep.client.TransactionRequest(context.Background(), req)
	if err != nil {
		return nil, nil, err
	}
	for {
		select {
		case res := <-tx.Responses():
			if res.IsProvisional() {
				continue
			}
			if !req.IsInvite() || !res.IsSuccess() {
				tx.Terminate()
			}
			// A 2xx to an INVITE keeps its transaction, which hands us
			// the retransmissions to acknowledge.
			return res, tx, nil
		case <-tx.Done():
			return nil, nil, fmt.Errorf("%s: %w", req.Method, tx.Err())
		case <-ctx.Done():
			tx.Terminate()
			return nil, nil, fmt.Errorf("%s: no answer within %v", req.Method, c.ep.opts.RequestTimeout)
		case <-c.ep.abort:
			tx.Terminate()
			return nil, nil, fmt.Errorf("%s: endpoint closed", req.Method)
		}
	}
}

// address sets where req goes: dest over transport, from our listening
// socket for UDP (so that the peer answers where we listen), over a
// verified connection for a TLS registrar.
func (e *Endpoint) address(ctx context.Context, req *sip.Request, r *registration, dest, transport string) error {
	if transport == TransportTLS && dest == r.acct.Registrar {
		d, err := e.destination(ctx, r)
		if err != nil {
			return err
		}
		dest = d
	}
	req.SetDestination(dest)
	req.SetTransport(sip.NetworkToUpper(transport))
	if transport == TransportUDP {
		req.Laddr = e.udpLocalAddr()
	}
	return nil
}

// addHeaders adds what every request of ours carries, and for INVITE what
// we can do.
func (e *Endpoint) addHeaders(req *sip.Request, invite bool) {
	req.AppendHeader(sip.NewHeader("User-Agent", e.opts.UserAgent))
	if invite {
		req.AppendHeader(sip.NewHeader("Allow", e.allow))
		req.AppendHeader(sip.NewHeader("Supported", strings.Join(supported, ", ")))
	}
}

// contactOn is our Contact for user over transport.
func (e *Endpoint) contactOn(user, transport string) sip.Uri {
	u := sip.Uri{Scheme: "sip", User: user, Host: e.opts.LocalIP}
	switch transport {
	case TransportTCP:
		u.Port = e.tcpLn.Addr().(*net.TCPAddr).Port
	case TransportTLS:
		if e.tlsLn != nil {
			u.Port = e.tlsLn.Addr().(*net.TCPAddr).Port
		}
	default:
		u.Port = e.udpConn.LocalAddr().(*net.UDPAddr).Port
		return u
	}
	u.UriParams = sip.NewParams()
	u.UriParams.Add("transport", transport)
	return u
}

// setSDP makes body the message's SDP.
func setSDP(msg interface {
	AppendHeader(sip.Header)
	SetBody([]byte)
}, body []byte) {
	msg.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	msg.SetBody(body)
}

// isSDP reports whether a message's body is SDP.
func isSDP(msg interface{ ContentType() *sip.ContentTypeHeader }) bool {
	return hasContentType(msg, "application/sdp")
}

// hasContentType compares a message's media type, without parameters.
func hasContentType(msg interface{ ContentType() *sip.ContentTypeHeader }, want string) bool {
	ct := msg.ContentType()
	if ct == nil {
		return false
	}
	mt, _, _ := strings.Cut(string(*ct), ";")
	return strings.EqualFold(strings.TrimSpace(mt), want)
}

// parseURI reads a URI string.
func parseURI(s string) (sip.Uri, error) {
	var u sip.Uri
	err := sip.ParseUri(s, &u)
	return u, err
}

// uriString writes a URI value.
func uriString(u sip.Uri) string { return u.String() }
