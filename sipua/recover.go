package sipua

import (
	"fmt"
	"time"

	"github.com/tandem-softphone/tandem/media/sdp"
)

// Crash safety (BC-30): Store hands a call over and ends it here, which
// suits a planned re-launch. To survive a crash of the process, the
// application instead saves a Checkpoint of each connected call while it
// lasts, and a new process continues the call from the last one with
// RecoverCall.

// Recovery margins: what the dead process may have sent after its last
// checkpoint, so that the recovered call never repeats it.
const (
	// recoverCSeqMargin covers in-dialog requests sent after the checkpoint
	// (a peer refuses a CSeq that does not rise; gaps are allowed, RFC 3261
	// section 12.2.2).
	recoverCSeqMargin = 100
	// recoverSeqMargin is added to the RTP packets the pause accounts for.
	recoverSeqMargin = 50
	// recoverSRTCPMargin covers the RTCP reports sent after the checkpoint,
	// beyond one a second.
	recoverSRTCPMargin = 10
)

// Checkpoint appends to dst a buffer of the call as it is now, in the
// format of Store, and leaves the call running: the application saves it
// (WriteBufferFile) on every change of the call, so that another process
// can continue the call with RecoverCall if this one dies. Only a
// connected or held call has a checkpoint. The buffer may hold SRTP keys.
func (c *Call) Checkpoint(dst []byte) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.state.established() || c.stream == nil {
		return dst, fmt.Errorf("sipua: checkpoint of call %s (%v): %w", c.id, c.state, ErrCallState)
	}
	rec := c.recordLocked(c.stream.Snapshot())
	// The recovering process finds the ports free, unless another program
	// took them meanwhile: then free ones, which the target refresh of
	// RecoverCall announces.
	rec.AnyMediaPort = true
	return appendCallBuffer(dst, rec), nil
}

// RecoverCall continues, in this endpoint, a call of a Checkpoint buffer
// whose process ended without storing it (a crash). It restores the call
// as RestoreCall does, after moving its counters past what the dead
// process may have sent since the checkpoint: the local CSeq, and the RTP
// sequence number (with the SRTP rollover counter) by the packets the
// pause accounts for. Then a target-refresh re-INVITE (RFC 3261 section
// 12.2.1.1), sent before RecoverCall returns, tells the peer our Contact
// and media address, which a new process usually has elsewhere; it also
// finds out whether the peer still knows the call (a 481 ends it) and
// brings the media back in line with what the dead process may have
// missed. If it fails the call is still returned, with the error.
func (e *Endpoint) RecoverCall(buf []byte) (*Call, error) {
	rec, err := decodeCallBuffer(buf)
	if err != nil {
		return nil, err
	}
	r, err := e.restoreAccount("call", rec.ID, rec.Site, rec.User)
	if err != nil {
		return nil, err
	}
	advanceRecord(rec, time.Since(rec.Stream.Taken))
	rec.AnyMediaPort = true
	contact := uriString(e.contactOn(r.acct.User, rec.Dialog.Transport))
	old := rec.Dialog.LocalContact
	rec.Dialog.LocalContact = contact

	c, err := e.RestoreCall(appendCallBuffer(nil, rec))
	if err != nil {
		return nil, err
	}
	c.log.Info("call recovered: target refresh", "contact", contact, "stored_contact", old)
	if err := c.refreshTarget(); err != nil {
		return c, fmt.Errorf("sipua: recover call %s: target refresh: %w", c.id, err)
	}
	return c, nil
}

// BufferInfo describes the call of a buffer of Store or Checkpoint
// without restoring it, so that an application can show what it could
// restore: its ID, direction, site, both addresses, state and times.
func BufferInfo(buf []byte) (CallInfo, error) {
	rec, err := decodeCallBuffer(buf)
	if err != nil {
		return CallInfo{}, err
	}
	return CallInfo{
		ID:              rec.ID,
		Direction:       rec.Direction,
		Site:            rec.Site,
		LocalURI:        rec.Dialog.LocalURI,
		PeerURI:         rec.Dialog.RemoteURI,
		PeerName:        rec.Dialog.RemoteName,
		State:           rec.State,
		LocalHold:       rec.LocalHold,
		RemoteHold:      rec.RemoteHold,
		Muted:           rec.Muted,
		TransferredFrom: rec.TransferredFrom,
		ReferredBy:      rec.ReferredBy,
		Replaced:        rec.Replaced,
		Created:         rec.Created,
		Answered:        rec.Answered,
	}, nil
}

// advanceRecord moves a checkpoint's counters past what was sent in the
// pause since it was taken.
func advanceRecord(rec *callRecord, pause time.Duration) {
	pause = max(pause, 0)
	rec.Dialog.LocalCSeq += recoverCSeqMargin
	ptime := rec.Stream.Media.PTime
	if ptime <= 0 {
		ptime = 20 * time.Millisecond
	}
	packets := uint64(pause/ptime) + recoverSeqMargin
	// The sequence number and its rollover counter as one 48-bit index
	// (RFC 3711 section 3.3.1).
	index := uint64(rec.Stream.ROC)<<16 | uint64(rec.Stream.Seq)
	index += packets
	rec.Stream.Seq, rec.Stream.ROC = uint16(index), uint32(index>>16)
	srtcp := uint64(rec.Stream.SRTCPIndex) + uint64(pause/time.Second) + recoverSRTCPMargin
	rec.Stream.SRTCPIndex = uint32(srtcp & 0x7fffffff)
}

// refreshTarget sends a re-INVITE that changes nothing but our Contact
// and, when they moved, our media address and ports.
func (c *Call) refreshTarget() error {
	c.mu.Lock()
	switch {
	case !c.state.established():
		c.mu.Unlock()
		return ErrCallState
	case c.reinviting:
		c.mu.Unlock()
		return ErrBusy
	}
	c.reinviting = true
	hold := c.localHold
	offer, err := sdp.Offer(&c.local)
	c.mu.Unlock()
	if err == nil {
		err = c.reinvite(offer, hold)
	}
	c.mu.Lock()
	c.reinviting = false
	c.mu.Unlock()
	return err
}
