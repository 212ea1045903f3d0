package rtpstream

import (
	"slices"
	"testing"
	"time"

	"github.com/tandem-softphone/tandem/media/sdp"
)

// BC-25: a stream restored from a snapshot is the same RTP stream: same
// SSRC, the next sequence number, and a timestamp that moved on by the
// pause, so that the receiver sees no gap beyond the pause itself.
func TestSnapshotRestoreContinuesStream(t *testing.T) {
	peer := newRawPeer(t)
	cfg := fastConfig(nil)
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(mediaTo(peer.addr())); err != nil {
		t.Fatal(err)
	}
	eventually(t, "packets before", func() bool { return peer.count() >= 10 })
	s.Close()
	snap := s.Snapshot()
	time.Sleep(50 * time.Millisecond) // packets in flight arrive
	n := peer.count()
	const pause = 200 * time.Millisecond
	time.Sleep(pause)

	r, err := Restore(cfg, snap)
	if err != nil {
		t.Fatalf("Restore: %v", err)
	}
	defer r.Close()
	if r.LocalAddr() != s.LocalAddr() || r.LocalRTCPAddr() != s.LocalRTCPAddr() || r.SSRC() != snap.SSRC {
		t.Errorf("restored at %v/%v SSRC %x: want %v/%v %x", r.LocalAddr(), r.LocalRTCPAddr(), r.SSRC(), s.LocalAddr(), s.LocalRTCPAddr(), snap.SSRC)
	}
	eventually(t, "packets after", func() bool { return peer.count() >= n+10 })

	pkts := peer.packets()
	peer.mu.Lock()
	at := slices.Clone(peer.at)
	peer.mu.Unlock()
	for i := 1; i < len(pkts); i++ {
		p, q := pkts[i-1], pkts[i]
		if q.SSRC != p.SSRC {
			t.Fatalf("packet %d: SSRC %x after %x", i, q.SSRC, p.SSRC)
		}
		if q.SequenceNumber != p.SequenceNumber+1 {
			t.Fatalf("packet %d: sequence %d after %d", i, q.SequenceNumber, p.SequenceNumber)
		}
		step := q.Timestamp - p.Timestamp
		if i != n {
			if step != 160 || q.Marker {
				t.Errorf("packet %d: timestamp step %d marker %v", i, step, q.Marker)
			}
			continue
		}
		// The restore: the timestamp follows the wall clock over the pause.
		wall := at[i].Sub(at[i-1])
		tsGap := time.Duration(step) * time.Second / 8000
		t.Logf("restore: %v on the wall clock, %v in timestamps", wall, tsGap)
		if !q.Marker {
			t.Errorf("no marker bit on the first packet after the restore")
		}
		if tsGap < pause || (tsGap-wall).Abs() > 150*time.Millisecond {
			t.Errorf("timestamp gap %v over a pause of %v", tsGap, wall)
		}
	}
}

// The same with SRTP and a real peer: the peer keeps authenticating and
// counts no loss, the restored stream decrypts the peer's media, and DTMF
// and hold work on it.
func TestSnapshotRestoreSRTP(t *testing.T) {
	var evB events
	cfg := fastConfig(nil)
	a, b := openStream(t, cfg), openStream(t, fastConfig(&evB))
	la, lb := localFor(a, sdp.PCMU), localFor(b, sdp.PCMU)
	la.SRTP = true
	ma, mb := negotiate(t, la, lb)
	if err := a.Start(ma); err != nil {
		t.Fatal(err)
	}
	if err := b.Start(mb); err != nil {
		t.Fatal(err)
	}
	eventually(t, "media both ways", func() bool {
		return a.Stats().PacketsReceived > 10 && b.Stats().PacketsReceived > 10
	})
	a.Close()
	snap := a.Snapshot()
	if !snap.Started || !snap.Media.Secure || snap.RemoteSSRC != b.SSRC() {
		t.Fatalf("snapshot %+v", snap)
	}
	time.Sleep(100 * time.Millisecond)
	received := b.Stats().PacketsReceived

	r, err := Restore(cfg, snap)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	eventually(t, "media after the restore", func() bool {
		return b.Stats().PacketsReceived > received+20 && r.Stats().PacketsReceived > 20
	})
	sb, sr := b.Stats(), r.Stats()
	if sb.AuthFailures != 0 || sb.Lost != 0 || sb.RemoteSSRC != snap.SSRC || sb.Buffer.Resets != 0 {
		t.Errorf("peer after the restore: %d auth failures, %d lost, SSRC %x (want %x), %d stream resets",
			sb.AuthFailures, sb.Lost, sb.RemoteSSRC, snap.SSRC, sb.Buffer.Resets)
	}
	if sr.AuthFailures != 0 {
		t.Errorf("restored stream: %d auth failures", sr.AuthFailures)
	}
	if err := r.SendDTMF("7", 80*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	eventually(t, "DTMF from the restored stream", func() bool { return len(evB.of(EventDTMF)) == 1 })
	if err := r.SetDirection(sdp.Inactive); err != nil {
		t.Fatal(err)
	}
	time.Sleep(60 * time.Millisecond)
	sent := r.Stats().PacketsSent
	time.Sleep(100 * time.Millisecond)
	if r.Stats().PacketsSent != sent {
		t.Errorf("the restored stream sends while inactive")
	}
}

// A stream that never started restores unstarted, on the same port.
func TestSnapshotRestoreUnstarted(t *testing.T) {
	cfg := fastConfig(nil)
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	snap := s.Snapshot()
	r, err := Restore(cfg, snap)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.LocalAddr() != snap.LocalAddr {
		t.Errorf("port %v: want %v", r.LocalAddr(), snap.LocalAddr)
	}
	peer := newRawPeer(t)
	if err := r.Start(mediaTo(peer.addr())); err != nil {
		t.Fatal(err)
	}
	eventually(t, "packets", func() bool { return peer.count() > 3 })
	if p := peer.packets()[0]; p.SSRC != snap.SSRC || p.SequenceNumber != snap.Seq {
		t.Errorf("first packet SSRC %x seq %d: want %x %d", p.SSRC, p.SequenceNumber, snap.SSRC, snap.Seq)
	}
}

func TestRestoreErrors(t *testing.T) {
	if _, err := Restore(fastConfig(nil), Snapshot{}); err == nil {
		t.Error("restored an empty snapshot")
	}
	busy := openStream(t, fastConfig(nil))
	snap := busy.Snapshot() // its port is still in use
	if _, err := Restore(fastConfig(nil), snap); err == nil {
		t.Error("restored onto a port in use")
	}
	snap = Snapshot{LocalAddr: busy.LocalAddr(), Started: true, Media: sdp.Media{Send: sdp.Codec{Name: "G729", ClockRate: 8000}}}
	busy.Close()
	if _, err := Restore(fastConfig(nil), snap); err == nil {
		t.Error("restored a snapshot with an unknown codec")
	}
}

// SRTP across a sequence number wrap and a restore after it: the rollover
// counter travels in the snapshot, so the peer keeps authenticating.
func TestSnapshotRestoreSRTPAfterWrap(t *testing.T) {
	cfg := fastConfig(nil)
	a, b := openStream(t, cfg), openStream(t, fastConfig(nil))
	la, lb := localFor(a, sdp.PCMU), localFor(b, sdp.PCMU)
	la.SRTP = true
	ma, mb := negotiate(t, la, lb)
	a.mu.Lock()
	a.seq = 65530
	a.mu.Unlock()
	if err := a.Start(ma); err != nil {
		t.Fatal(err)
	}
	if err := b.Start(mb); err != nil {
		t.Fatal(err)
	}
	eventually(t, "packets past the wrap", func() bool { return b.Stats().PacketsReceived > 15 })
	a.Close()
	snap := a.Snapshot()
	if snap.ROC != 1 || snap.Seq > 1000 {
		t.Fatalf("snapshot ROC %d seq %d: want 1 after the wrap", snap.ROC, snap.Seq)
	}
	received := b.Stats().PacketsReceived
	r, err := Restore(cfg, snap)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	eventually(t, "packets after the restore", func() bool { return b.Stats().PacketsReceived > received+10 })
	if st := b.Stats(); st.AuthFailures != 0 || st.Lost != 0 {
		t.Errorf("peer: %d authentication failures, %d lost", st.AuthFailures, st.Lost)
	}
}
