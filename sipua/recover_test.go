package sipua

import (
	"errors"
	"testing"
	"time"
)

// BC-30 (crash safety): a checkpoint leaves the call running; a fresh
// endpoint on another SIP port recovers the call from it as if the first
// process had died: the peer learns the new Contact by a target-refresh
// re-INVITE (its BYE then reaches the new endpoint), audio flows both
// ways, and the RTP sequence moves on past what was sent after the
// checkpoint.
func TestCheckpointRecoverCall(t *testing.T) {
	s := startSite(t, "site1.test", nil)
	a := newPhone(t, s, "1001", phoneOptions{said: chirp(300, 3000, 4*time.Second)})
	b := newPhone(t, s, "2001", phoneOptions{said: chirp(3000, 300, 4*time.Second)})
	ca, cb := connect(t, a, b)
	waitCall(t, ca, "audio arrives", func(i CallInfo) bool { return i.Media.Stats.PacketsReceived > 10 })

	buf, err := cb.Checkpoint(nil)
	if err != nil {
		t.Fatalf("Checkpoint: %v", err)
	}
	if st := cb.Info().State; st != CallConnected {
		t.Fatalf("the call is %v after a checkpoint", st)
	}
	bi, err := BufferInfo(buf)
	if want := cb.Info(); err != nil || bi.ID != want.ID || bi.PeerURI != want.PeerURI || bi.State != CallConnected ||
		!bi.Answered.Equal(want.Answered) || bi.Direction != Incoming {
		t.Fatalf("BufferInfo: %+v, %v; the call: %+v", bi, err, want)
	}
	before := cb.Info().Media.Stats
	waitCall(t, cb, "more audio sent after the checkpoint", func(i CallInfo) bool {
		return i.Media.Stats.PacketsSent > before.PacketsSent+10
	})
	// The first process dies: no BYE, its ports are freed (Store ends the
	// call without signalling; its own buffer is thrown away).
	if _, err := cb.Store(nil); err != nil {
		t.Fatal(err)
	}
	oldContact := b.ep.contactFor(b.ep.regs[0].acct)
	if err := b.ep.Close(); err != nil {
		t.Fatal(err)
	}

	b2 := newPhone(t, s, "2001", phoneOptions{said: chirp(3000, 300, 4*time.Second)})
	if got := b2.ep.contactFor(b2.ep.regs[0].acct); got.Port == oldContact.Port {
		t.Skipf("the new endpoint got the old port %d", got.Port)
	}
	c2, err := b2.ep.RecoverCall(buf)
	if err != nil {
		t.Fatalf("RecoverCall: %v", err)
	}
	if info := c2.Info(); info.State != CallConnected || info.ID != cb.ID() {
		t.Fatalf("recovered call: %+v", info)
	}
	got := packetsIn(ca)
	waitCall(t, ca, "audio from the recovered call", func(i CallInfo) bool {
		return i.Media.Stats.PacketsReceived > got+20 && i.Media.Stats.RemoteSSRC == before.SSRC
	})
	waitCall(t, c2, "audio at the recovered call", func(i CallInfo) bool { return i.Media.Stats.PacketsReceived > 20 })

	if err := ca.Hangup(); err != nil {
		t.Fatal(err)
	}
	waitEnded(t, ca, EndLocalHangup)
	waitEnded(t, c2, EndRemoteHangup)
}

// The recovered counters move past what the dead process may have sent:
// CSeq by a margin, the RTP index (sequence number and SRTP rollover
// counter together) by the packets of the pause.
func TestAdvanceRecord(t *testing.T) {
	rec := &callRecord{}
	rec.Dialog.LocalCSeq = 7
	rec.Stream.Seq, rec.Stream.ROC = 0xfff0, 3
	rec.Stream.Media.PTime = 20 * time.Millisecond
	rec.Stream.SRTCPIndex = 0x7ffffffe
	advanceRecord(rec, time.Second)
	if rec.Dialog.LocalCSeq != 7+recoverCSeqMargin {
		t.Fatalf("CSeq %d", rec.Dialog.LocalCSeq)
	}
	want := uint64(3)<<16 | 0xfff0 + 50 + recoverSeqMargin
	if got := uint64(rec.Stream.ROC)<<16 | uint64(rec.Stream.Seq); got != want {
		t.Fatalf("RTP index %#x, want %#x", got, want)
	}
	if rec.Stream.ROC != 4 {
		t.Fatalf("ROC %d, want 4 (the sequence number wrapped)", rec.Stream.ROC)
	}
	if rec.Stream.SRTCPIndex >= 0x7ffffffe || rec.Stream.SRTCPIndex > 0x7fffffff {
		t.Fatalf("SRTCP index %#x: not wrapped within 31 bits", rec.Stream.SRTCPIndex)
	}
}

// A call the peer hung up while the process was dead: the target refresh
// of the recovery gets 481 and the recovered call ends at once.
func TestRecoverCallPeerGone(t *testing.T) {
	s := startSite(t, "site1.test", nil)
	a := newPhone(t, s, "1001", phoneOptions{})
	b := newPhone(t, s, "2001", phoneOptions{})
	ca, cb := connect(t, a, b)
	buf, err := cb.Checkpoint(nil)
	if err != nil {
		t.Fatal(err)
	}
	// The callee's call can be stored once the caller's ACK is in.
	eventually(t, "the call stored", func() bool {
		_, err := cb.Store(nil)
		if err != nil && !errors.Is(err, ErrBusy) {
			t.Fatal(err)
		}
		return err == nil
	})
	if err := b.ep.Close(); err != nil {
		t.Fatal(err)
	}
	// The peer's BYE goes nowhere; its call ends anyway.
	if err := ca.Hangup(); err != nil {
		t.Fatal(err)
	}
	waitCallState(t, ca, CallEnded)

	b2 := newPhone(t, s, "2001", phoneOptions{})
	c2, err := b2.ep.RecoverCall(buf)
	if err == nil || c2 == nil {
		t.Fatalf("RecoverCall of a call the peer ended: %v, %v", c2, err)
	}
	waitCallState(t, c2, CallEnded)
	if _, err := BufferInfo(buf[:len(buf)-1]); !errors.Is(err, ErrBufferTruncated) && !errors.Is(err, ErrBufferDamaged) {
		t.Fatalf("BufferInfo of a cut buffer: %v", err)
	}
}
