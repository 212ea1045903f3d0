package sipua

import (
	"slices"
	"strings"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// requestHandler answers one incoming request on its server transaction.
type requestHandler func(req *sip.Request, tx sip.ServerTransaction)

// handlers are the methods the endpoint serves, and so its Allow header.
// Calls (INVITE, ACK, BYE, CANCEL, UPDATE, INFO, REFER) and subscriptions
// (SUBSCRIBE, NOTIFY) add their entries here; everything else is refused
// by onUnhandled.
func (e *Endpoint) handlers() map[sip.RequestMethod]requestHandler {
	return map[sip.RequestMethod]requestHandler{
		sip.OPTIONS: e.onOptions,
		sip.INVITE:  e.onInvite,
		sip.ACK:     e.onAck,
		sip.BYE:     e.onBye,
		sip.CANCEL:  e.onUnhandled, // sipgo matches a CANCEL to its INVITE itself
		sip.REFER:   e.onRefer,
		sip.NOTIFY:  e.routeNotify, // subscriptions, else transfers
		sip.INFO:    e.onInfo,
		sip.UPDATE:  e.onUpdate, // update.go
		// Only the implicit subscription of a REFER we accepted is ours
		// to serve (transfer.go); other packages get 489.
		sip.SUBSCRIBE: e.onSubscribe,
	}
}

// supported lists the option tags we implement, for Require checks (RFC
// 3261 §8.2.2.3) and our Supported header: Replaces (RFC 3891).
var supported = []string{"replaces"}

// knownMethods are the methods of RFC 3261 and its common extensions: a
// request for one of them that we do not serve gets 405 with Allow, any
// other method 501 (RFC 3261 §8.2.1).
var knownMethods = []sip.RequestMethod{
	sip.INVITE, sip.ACK, sip.CANCEL, sip.BYE, sip.REGISTER, sip.OPTIONS,
	sip.SUBSCRIBE, sip.NOTIFY, sip.REFER, sip.INFO, sip.MESSAGE, sip.PRACK,
	sip.UPDATE, sip.PUBLISH,
}

// route installs the handlers on srv. sipgo's handler table is not safe to
// change while serving, so every method is set here before Start listens.
func (e *Endpoint) route(srv *sipgo.Server) {
	hs := e.handlers()
	allow := make([]string, 0, len(hs))
	for m := range hs {
		allow = append(allow, string(m))
	}
	slices.Sort(allow)
	e.allow = strings.Join(allow, ", ")
	for m, h := range hs {
		srv.OnRequest(m, e.checked(h))
	}
	srv.OnNoRoute(e.onUnhandled)
}

// checked refuses requests that require extensions we lack before h sees
// them.
func (e *Endpoint) checked(h requestHandler) sipgo.RequestHandler {
	return func(req *sip.Request, tx sip.ServerTransaction) {
		if req.IsAck() {
			h(req, tx)
			return
		}
		if code, reason := checkRequest(req); code != 0 {
			e.respond(tx, e.response(req, code, reason))
			return
		}
		if req.IsCancel() {
			h(req, tx)
			return
		}
		var unsupported []string
		for _, hdr := range req.GetHeaders("Require") {
			for tag := range strings.SplitSeq(hdr.Value(), ",") {
				if tag = strings.TrimSpace(tag); tag != "" && !slices.Contains(supported, tag) {
					unsupported = append(unsupported, tag)
				}
			}
		}
		if len(unsupported) > 0 {
			res := e.response(req, sip.StatusBadExtension, "Bad Extension")
			res.AppendHeader(sip.NewHeader("Unsupported", strings.Join(unsupported, ", ")))
			e.respond(tx, res)
			return
		}
		h(req, tx)
	}
}

// onOptions answers what we can do (RFC 3261 §11.2). Registrars and
// proxies also use it to see that we are alive.
func (e *Endpoint) onOptions(req *sip.Request, tx sip.ServerTransaction) {
	res := e.response(req, sip.StatusOK, "OK")
	res.AppendHeader(sip.NewHeader("Accept", "application/sdp"))
	res.AppendHeader(sip.NewHeader("Accept-Language", "en"))
	e.respond(tx, res)
}

// onUnhandled answers requests no handler serves.
func (e *Endpoint) onUnhandled(req *sip.Request, tx sip.ServerTransaction) {
	switch {
	case req.IsAck():
		// An ACK is never answered; with no INVITE of ours it is stray.
	case req.IsCancel():
		// sipgo matched no INVITE transaction to cancel.
		e.respond(tx, e.response(req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist"))
	case slices.Contains(knownMethods, req.Method):
		e.respond(tx, e.response(req, sip.StatusMethodNotAllowed, "Method Not Allowed"))
	default:
		e.respond(tx, e.response(req, sip.StatusNotImplemented, "Not Implemented"))
	}
}

// response builds a response with our Allow and Server headers.
func (e *Endpoint) response(req *sip.Request, code int, reason string) *sip.Response {
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	res.AppendHeader(sip.NewHeader("Allow", e.allow))
	res.AppendHeader(sip.NewHeader("Server", e.opts.UserAgent))
	return res
}

func (e *Endpoint) respond(tx sip.ServerTransaction, res *sip.Response) {
	if err := tx.Respond(res); err != nil {
		e.log.Debug("respond", "status", res.StatusCode, "error", err)
	}
}
