package sipua

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
)

// DefaultDTMFDuration is how long each digit of SendDTMF lasts when
// Options.DTMFDuration is 0.
const DefaultDTMFDuration = 100 * time.Millisecond

// SendDTMF sends digits (0-9, *, #, A-D) as RFC 4733 telephone-events in
// the call's RTP, one after the other.
func (c *Call) SendDTMF(digits string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.state.established() || !c.mediaUp {
		return ErrCallState
	}
	if err := c.stream.SendDTMF(digits, c.ep.opts.DTMFDuration); err != nil {
		return fmt.Errorf("sipua: DTMF: %w", err)
	}
	return nil
}

// onInfo serves INFO within a call: DTMF as application/dtmf-relay or
// application/dtmf (the way some gateways send keys), and empty INFOs
// that only check the dialog is alive.
func (e *Endpoint) onInfo(req *sip.Request, tx sip.ServerTransaction) {
	c := e.lockDialogCall(req, tx)
	if c == nil {
		return
	}
	defer c.mu.Unlock()
	var (
		digit rune
		dur   time.Duration
		err   error
	)
	switch {
	case len(req.Body()) == 0:
		e.respond(tx, e.response(req, sip.StatusOK, "OK"))
		return
	case hasContentType(req, "application/dtmf-relay"):
		digit, dur, err = parseDTMFRelay(string(req.Body()))
	case hasContentType(req, "application/dtmf"):
		digit, err = parseDigit(strings.TrimSpace(string(req.Body())))
	default:
		res := e.response(req, sip.StatusUnsupportedMediaType, "Unsupported Media Type")
		res.AppendHeader(sip.NewHeader("Accept", "application/dtmf-relay, application/dtmf"))
		e.respond(tx, res)
		return
	}
	if err != nil {
		e.respond(tx, e.response(req, sip.StatusBadRequest, "Bad DTMF"))
		return
	}
	e.respond(tx, e.response(req, sip.StatusOK, "OK"))
	c.log.Info("DTMF received by INFO", "digit", string(digit))
	e.emit(DTMFEvent{CallID: c.id, Digit: digit, Duration: dur, Via: "info"})
}

// parseDTMFRelay reads an application/dtmf-relay body: "Signal=5" and an
// optional "Duration=160" (milliseconds), one per line.
func parseDTMFRelay(body string) (rune, time.Duration, error) {
	var (
		digit rune
		dur   time.Duration
		found bool
	)
	for line := range strings.Lines(body) {
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "signal":
			d, err := parseDigit(v)
			if err != nil {
				return 0, 0, err
			}
			digit, found = d, true
		case "duration":
			ms, err := strconv.ParseUint(v, 10, 16)
			if err != nil {
				return 0, 0, fmt.Errorf("dtmf-relay duration %q", v)
			}
			dur = time.Duration(ms) * time.Millisecond
		}
	}
	if !found {
		return 0, 0, fmt.Errorf("dtmf-relay without a signal")
	}
	return digit, dur, nil
}

// parseDigit reads one key: 0-9, *, #, A-D, or the event codes 10 (*)
// and 11 (#) that some senders write.
func parseDigit(s string) (rune, error) {
	switch s {
	case "10":
		return '*', nil
	case "11":
		return '#', nil
	}
	if len(s) == 1 && strings.ContainsRune("0123456789*#ABCDabcd", rune(s[0])) {
		return []rune(strings.ToUpper(s))[0], nil
	}
	return 0, fmt.Errorf("DTMF signal %q", s)
}
