package registrar

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
)

// dateLayout is the SIP (and HTTP) date format, always in GMT.
const dateLayout = "Mon, 02 Jan 2006 15:04:05 GMT"

func (r *Registrar) onRegister(req *sip.Request, tx sip.ServerTransaction) {
	res := r.handleRegister(req)
	if err := tx.Respond(res); err != nil {
		r.log.Warn("respond to REGISTER", "status", res.StatusCode, "source", req.Source(), "error", err)
	}
}

// onOptions answers 200 OK: endpoints probe a registrar with OPTIONS to find
// out quickly that it is gone. allow lists the methods the stack takes.
func (r *Registrar) onOptions(req *sip.Request, tx sip.ServerTransaction, allow string) {
	res := sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil)
	res.AppendHeader(sip.NewHeader("Allow", allow))
	if err := tx.Respond(res); err != nil {
		r.log.Warn("respond to OPTIONS", "source", req.Source(), "error", err)
	}
}

// handleRegister processes a REGISTER (RFC 3261 §10.3) and returns the
// response to send.
func (r *Registrar) handleRegister(req *sip.Request) *sip.Response {
	return r.register(req, r.authenticate)
}

// register is handleRegister with the authentication step passed in, so
// that tests and fuzzing can reach the binding code with any input. auth
// returns nil to accept the request.
func (r *Registrar) register(req *sip.Request, auth func(req *sip.Request, dn string) *sip.Response) *sip.Response {
	to, callID, cseq := req.To(), req.CallID(), req.CSeq()
	if to == nil || callID == nil || cseq == nil || req.From() == nil || req.Via() == nil {
		return sip.NewResponseFromRequest(req, sip.StatusBadRequest, "Missing Mandatory Header", nil)
	}
	dn := to.Address.User
	if dn == "" {
		return sip.NewResponseFromRequest(req, sip.StatusNotFound, "Not Found", nil)
	}
	// Step 2: we support no extension.
	if ext := requiredExtensions(req); len(ext) > 0 {
		res := sip.NewResponseFromRequest(req, sip.StatusBadExtension, "Bad Extension", nil)
		res.AppendHeader(sip.NewHeader("Unsupported", strings.Join(ext, ", ")))
		return res
	}
	if res := auth(req, dn); res != nil {
		if res.StatusCode == sip.StatusForbidden {
			r.log.Info("REGISTER refused", "dn", dn, "source", req.Source())
		}
		return res
	}

	reg, res := r.parseRegistration(req, dn)
	if res != nil {
		return res
	}
	var current []*contact
	if !reg.wildcard && len(reg.contacts) == 0 {
		current = r.contacts(dn) // a query
	} else {
		var err error
		current, err = r.apply(reg)
		switch {
		case errors.Is(err, errOutOfOrder):
			return sip.NewResponseFromRequest(req, sip.StatusBadRequest, "Invalid CSeq Number", nil)
		case err != nil:
			return sip.NewResponseFromRequest(req, sip.StatusServiceUnavailable, "Service Unavailable", nil)
		}
	}

	res = sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil)
	now := r.clock.Now()
	for _, c := range current {
		h := c.hdr.Clone()
		h.Params.Add("expires", strconv.Itoa(ceilSeconds(c.expiresAt.Sub(now))))
		res.AppendHeader(h)
	}
	res.AppendHeader(sip.NewHeader("Date", now.UTC().Format(dateLayout)))
	return res
}

// parseRegistration validates the Contact and Expires headers (§10.3 step 6).
func (r *Registrar) parseRegistration(req *sip.Request, dn string) (registration, *sip.Response) {
	reg := registration{
		dn:        dn,
		callID:    string(*req.CallID()),
		cseq:      req.CSeq().SeqNo,
		transport: req.Transport(),
		source:    req.Source(),
	}
	expires, hasExpires := r.opts.DefaultExpires, false
	if h := req.GetHeader("Expires"); h != nil {
		// RFC 3261 §20.19: a malformed value counts as the default.
		if d, ok := parseDeltaSeconds(h.Value()); ok {
			expires, hasExpires = d, true
		}
	}

	hdrs := req.GetHeaders("Contact")
	for _, h := range hdrs {
		ch, ok := h.(*sip.ContactHeader)
		if !ok {
			return reg, sip.NewResponseFromRequest(req, sip.StatusBadRequest, "Bad Contact", nil)
		}
		if ch.Address.Wildcard {
			if len(hdrs) != 1 || !hasExpires || expires != 0 {
				return reg, sip.NewResponseFromRequest(req, sip.StatusBadRequest, "Invalid Wildcard Contact", nil)
			}
			reg.wildcard = true
			return reg, nil
		}
		exp := expires
		if v, ok := ch.Params.Get("expires"); ok {
			if d, ok := parseDeltaSeconds(v); ok {
				exp = d
			}
		}
		if exp > 0 && exp < r.opts.MinExpires {
			res := sip.NewResponseFromRequest(req, sip.StatusIntervalToBrief, "Interval Too Brief", nil)
			res.AppendHeader(sip.NewHeader("Min-Expires", strconv.Itoa(int(r.opts.MinExpires/time.Second))))
			return reg, res
		}
		exp = min(exp, r.opts.MaxExpires)
		stored := ch.Clone()
		stored.Params.Remove("expires")
		reg.contacts = append(reg.contacts, contactUpdate{hdr: stored, expires: exp})
	}
	return reg, nil
}

// parseDeltaSeconds parses delta-seconds (RFC 3261 §25.1); values beyond
// 2^32-1 are refused, the caller clamps to MaxExpires.
func parseDeltaSeconds(s string) (time.Duration, bool) {
	n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 32)
	if err != nil {
		return 0, false
	}
	return time.Duration(n) * time.Second, true
}

func ceilSeconds(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int((d + time.Second - 1) / time.Second)
}

// requiredExtensions lists the option tags of the Require headers.
func requiredExtensions(req *sip.Request) []string {
	var tags []string
	for _, h := range req.GetHeaders("Require") {
		for t := range strings.SplitSeq(h.Value(), ",") {
			if t = strings.TrimSpace(t); t != "" {
				tags = append(tags, t)
			}
		}
	}
	return tags
}
