package sipua

import (
	"errors"
	"fmt"

	"github.com/emiago/sipgo/sip"

	"github.com/tandem-softphone/tandem/media/rtpstream"
)

// ErrCallExists: the buffer's call, or its dialog, is already in the
// endpoint.
var ErrCallExists = errors.New("sipua: call already in the endpoint")

// RestoreCall rebuilds a call from a buffer of Store (BC-25): it is
// CONNECTED (or HELD) at once, on the same dialog (tags, route set, the
// next CSeq) and the same RTP stream (SSRC, sequence numbers and
// timestamps continue, SRTP keys and rollover counters too). The
// endpoint must be started and have an account of the buffer's site and
// DN. A call that talked takes the audio devices if no other call has
// them.
//
// The stream binds the stored media ports again. A buffer whose header
// allows it (see docs/call-buffer.md) takes free ports when those are in
// use; the peer then learns them with the call's next re-INVITE.
func (e *Endpoint) RestoreCall(buf []byte) (*Call, error) {
	rec, err := decodeCallBuffer(buf)
	if err != nil {
		return nil, err
	}
	r, err := e.restoreAccount("call", rec.ID, rec.Site, rec.User)
	if err != nil {
		return nil, err
	}

	c := e.newCall(r, rec.Direction)
	c.id = rec.ID
	c.log = e.log.With("call", c.id, "site", rec.Site)
	c.state = rec.State
	c.localHold, c.remoteHold, c.muted = rec.LocalHold, rec.RemoteHold, rec.Muted
	c.created, c.answered = rec.Created, rec.Answered
	c.transferredFrom, c.referredBy, c.replaced = rec.TransferredFrom, rec.ReferredBy, rec.Replaced
	c.dlg = rec.Dialog
	c.local = rec.Local
	if rec.Refer.Role == referRoleSubscriber {
		// BC-27: our transfer goes on; the peer's NOTIFYs finish it.
		c.transfer, c.transferCode = TransferPending, rec.Refer.Code
	}
	c.settle() // no INVITE transaction waits for this call

	if err := e.callTaken(c); err != nil {
		return nil, err
	}
	stream, err := e.restoreStream(c, rec)
	if err != nil {
		return nil, fmt.Errorf("sipua: restore call %s: %w", c.id, err)
	}
	c.mu.Lock() // the stream's events read them
	c.stream = stream
	c.mediaUp = rec.MediaUp
	c.mu.Unlock()
	// Known only now, with its media: the peer's requests may come at once.
	if err := e.claimCall(c); err != nil {
		if cerr := stream.Close(); cerr != nil {
			c.log.Debug("close media", "error", cerr)
		}
		return nil, err
	}

	c.mu.Lock()
	talks := c.state == CallConnected && !c.localHold && c.mediaUp
	c.log.Info("call restored", "state", c.state, "cseq", c.dlg.LocalCSeq, "media", stream.LocalAddr())
	c.emitLocked()
	c.mu.Unlock()
	if c.mediaUp && e.opts.QualityInterval > 0 {
		go c.reportQuality(e.opts.QualityInterval)
	}
	if talks {
		e.takeAudioIfFree(c)
	}
	if rec.Refer.Role == referRoleNotifier {
		c.restoreReferSub(rec.Refer.Code)
	}
	return c, nil
}

// restoreReferSub carries on the subscription of a REFER the peer sent
// (BC-27) and ends it with the final NOTIFY it is owed: the outcome
// already known when the call was stored, else 487, since the call placed
// for the REFER was still being set up and did not survive the store.
func (c *Call) restoreReferSub(code int) {
	// The reason phrase of a stored status is not kept: a generic one.
	final := sipfrag{code: code, reason: "Failed"}
	switch {
	case code < 200:
		final = sipfrag{code: sip.StatusRequestTerminated, reason: "Request Terminated"}
	case code < 300:
		final.reason = "OK"
	}
	n := &referNotifier{last: final.code, lastReason: final.reason, ended: true}
	c.mu.Lock()
	c.notifier = n
	c.mu.Unlock()
	c.ep.goCall(func() {
		c.notifyRefer(final)
		n.mu.Lock()
		n.over = true
		n.mu.Unlock()
	})
}

// callTaken reports ErrCallExists when c's ID or dialog is already known.
func (e *Endpoint) callTaken(c *Call) error {
	e.callsMu.Lock()
	defer e.callsMu.Unlock()
	return e.callTakenLocked(c)
}

func (e *Endpoint) callTakenLocked(c *Call) error {
	_, idTaken := e.calls[c.id]
	_, dlgTaken := e.dialogs[dialogKey{callID: c.dlg.CallID, localTag: c.dlg.LocalTag}]
	if idTaken || dlgTaken {
		return fmt.Errorf("sipua: restore call %s (Call-ID %s): %w", c.id, c.dlg.CallID, ErrCallExists)
	}
	return nil
}

// claimCall adds c unless its ID or its dialog is known by now.
func (e *Endpoint) claimCall(c *Call) error {
	e.callsMu.Lock()
	defer e.callsMu.Unlock()
	if err := e.callTakenLocked(c); err != nil {
		return err
	}
	e.calls[c.id] = c
	e.dialogs[dialogKey{callID: c.dlg.CallID, localTag: c.dlg.LocalTag}] = c
	return nil
}

// restoreStream continues the call's stream on its stored ports, or on
// free ones when the buffer allows it and they are taken.
func (e *Endpoint) restoreStream(c *Call, rec *callRecord) (*rtpstream.Stream, error) {
	cfg := rtpstream.Config{
		SampleRate:   callSampleRate,
		NoRTPTimeout: e.opts.NoRTPTimeout,
		OnEvent:      c.onStreamEvent,
		Logger:       c.log,
	}
	s, err := rtpstream.Restore(cfg, rec.Stream)
	if err == nil || !rec.AnyMediaPort {
		return s, err
	}
	c.log.Info("stored media ports taken; taking free ones", "stored", rec.Stream.LocalAddr, "error", err)
	free, err := e.openStream(c)
	if err != nil {
		return nil, err
	}
	snap := rec.Stream
	snap.LocalAddr, snap.LocalRTCPAddr = free.LocalAddr(), free.LocalRTCPAddr()
	if err := free.Close(); err != nil {
		return nil, fmt.Errorf("media: %w", err)
	}
	if s, err = rtpstream.Restore(cfg, snap); err != nil {
		return nil, err
	}
	// Our next SDP announces where we now receive.
	c.mu.Lock()
	c.local.Address = s.LocalAddr().Addr()
	c.local.Port = int(s.LocalAddr().Port())
	c.local.RTCPPort = int(s.LocalRTCPAddr().Port())
	c.mu.Unlock()
	return s, nil
}

// restoreAccount is the account a stored call or subscription (what, id)
// of site and DN user goes back to; the endpoint must be running.
func (e *Endpoint) restoreAccount(what, id, site, user string) (*registration, error) {
	if !e.running() {
		return nil, ErrNotStarted
	}
	r, err := e.site(site)
	if err != nil {
		return nil, fmt.Errorf("sipua: restore %s %s: %w", what, id, err)
	}
	if r.acct.User != user {
		return nil, fmt.Errorf("sipua: restore %s %s: site %s is DN %s, the %s's is %s: %w",
			what, id, site, r.acct.User, what, user, ErrUnknownSite)
	}
	return r, nil
}
