package sipua

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/tandem-softphone/tandem/media/rtpstream"
)

// StorageSize is the size of the buffer Store would write for the call
// now (BC-26), to allocate it beforehand. Only a connected or held call
// can be stored.
func (c *Call) StorageSize() (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.state.established() || c.stream == nil {
		return 0, fmt.Errorf("sipua: storage size of call %s (%v): %w", c.id, c.state, ErrCallState)
	}
	// The live snapshot has the same fields, and sizes, as the one Store
	// takes after closing the stream.
	rec := c.recordLocked(c.stream.Snapshot())
	return len(appendCallBuffer(nil, rec)), nil
}

// Store hands the call over to a buffer (BC-25): it appends to dst
// everything a fresh endpoint needs to continue the call (RestoreCall)
// and returns the extended slice. Only a connected or held call can be
// stored, and not while a re-INVITE of it is under way (ErrBusy).
//
// The call leaves this endpoint without any signalling: its media stops
// (the ports are freed for the restoring endpoint, and the RTP state is
// taken after the last packet sent), and it ends with EndStored; the peer
// sees only a pause in the media. The buffer holds the SRTP keys of a
// secure call: keep it as a secret (WriteBufferFile).
func (c *Call) Store(dst []byte) ([]byte, error) {
	c.mu.Lock()
	switch {
	case !c.state.established() || c.stream == nil:
		c.mu.Unlock()
		return dst, fmt.Errorf("sipua: store call %s (%v): %w", c.id, c.state, ErrCallState)
	case c.reinviting || c.ackWait != nil || c.referring:
		c.mu.Unlock()
		return dst, fmt.Errorf("sipua: store call %s: %w", c.id, ErrBusy)
	}
	// Our own hold or resume now gets ErrBusy, and a re-INVITE of the
	// peer 491, until the call is gone.
	c.reinviting = true
	s := c.stream
	c.mu.Unlock()

	c.ep.releaseAudio(c)
	if err := s.Close(); err != nil {
		c.log.Debug("close media to store", "error", err)
	}
	snap := s.Snapshot() // exact after Close: the next packet follows the last sent

	c.mu.Lock()
	rec := c.recordLocked(snap)
	n := c.notifier
	c.mu.Unlock()
	if n != nil {
		// A call placed for the peer's REFER that is still being set up
		// cannot go with the buffer (calls in setup are lost): it ends,
		// and the restored call tells the peer (restoreReferSub).
		if active, code, tc := n.active(); active && code < 200 && tc != nil {
			if err := tc.Hangup(); err != nil {
				c.log.Info("end the transfer's call", "error", err)
			}
		}
	}
	c.finish(EndStored, 0, "stored")
	if info := c.Info(); info.EndReason != EndStored {
		// The peer hung up meanwhile: there is nothing to continue.
		return dst, fmt.Errorf("sipua: store call %s: ended (%v): %w", c.id, info.EndReason, ErrCallState)
	}
	c.log.Info("call stored", "cseq", rec.Dialog.LocalCSeq, "ssrc", snap.SSRC, "seq", snap.Seq)
	return appendCallBuffer(dst, rec), nil
}

// recordLocked is the call as a buffer records it. c.mu is held.
func (c *Call) recordLocked(snap rtpstream.Snapshot) *callRecord {
	rec := &callRecord{
		ID:              c.id,
		Direction:       c.dir,
		Site:            c.reg.acct.Site,
		User:            c.reg.acct.User,
		State:           c.state,
		LocalHold:       c.localHold,
		RemoteHold:      c.remoteHold,
		Muted:           c.muted,
		MediaUp:         c.mediaUp,
		Created:         c.created,
		Answered:        c.answered,
		TransferredFrom: c.transferredFrom,
		ReferredBy:      c.referredBy,
		Replaced:        c.replaced,
		Dialog:          c.dlg,
		Local:           c.local,
		Stream:          snap,
	}
	rec.Dialog.RouteSet = append([]string(nil), c.dlg.RouteSet...)
	// BC-27: the call's transfer subscription goes with it while it is
	// active, and only then: ours once the peer accepted the REFER (and
	// has not notified the end), the peer's until we sent the final
	// NOTIFY.
	if c.transfer == TransferPending && !c.referring {
		rec.Refer = referSubRecord{Role: referRoleSubscriber, Code: c.transferCode}
	} else if c.notifier != nil {
		if active, code, _ := c.notifier.active(); active {
			rec.Refer = referSubRecord{Role: referRoleNotifier, Code: code}
		}
	}
	return rec
}

// WriteBufferFile writes a stored buffer to path atomically: into a
// temporary file of the same directory, readable and writable by the
// owner only (0600, the buffer may hold SRTP keys), then renamed over
// path (BC-30).
func WriteBufferFile(path string, buf []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write buffer %s: %w", path, err)
	}
	tmp := f.Name()
	err = f.Chmod(0o600)
	if err == nil {
		_, err = f.Write(buf)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write buffer %s: %w", path, err)
	}
	return nil
}
