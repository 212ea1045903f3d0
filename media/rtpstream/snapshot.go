package rtpstream

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/tandem-softphone/tandem/media/jitter"
	"github.com/tandem-softphone/tandem/media/sdp"
)

// Snapshot is what a fresh process needs to continue a stream (BC-25):
// the same ports, SSRC, sequence numbers, timestamps and SRTP state, so
// that the peer sees one stream with a pause in it. It is a plain value;
// the call layer serialises it with the call. It holds SRTP keys when
// Media.Secure: store it as a secret.
type Snapshot struct {
	Taken         time.Time      // when it was taken: the timestamp moves on by the time until Restore
	LocalAddr     netip.AddrPort // RTP port to bind again
	LocalRTCPAddr netip.AddrPort

	Started    bool
	Media      sdp.Media      // negotiated media: codecs and payload types, direction, keys
	Remote     netip.AddrPort // where RTP goes now (the latched address, symmetric RTP)
	RemoteRTCP netip.AddrPort
	Muted      bool

	SSRC        uint32
	Seq         uint16 // next sequence number
	Timestamp   uint32 // timestamp of the next frame at Taken
	ROC         uint32 // SRTP rollover counter of Seq
	SRTCPIndex  uint32 // last SRTCP index we used
	RemoteSSRC  uint32
	RemoteROC   uint32 // the peer's SRTP rollover counter as last seen
	PacketsSent uint64
	OctetsSent  uint64
}

// Snapshot returns the stream's state. Taken after Close it is exact;
// taken while the stream runs, packets sent after it repeat its sequence
// numbers once restored.
func (s *Stream) Snapshot() Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	snap := Snapshot{
		Taken:         time.Now(),
		LocalAddr:     s.LocalAddr(),
		LocalRTCPAddr: s.LocalRTCPAddr(),
		Started:       s.started,
		Media:         s.media,
		Remote:        s.remote,
		RemoteRTCP:    s.remoteRTCP,
		Muted:         s.muted,
		SSRC:          s.ssrc,
		Seq:           s.seq,
		Timestamp:     s.ts,
		ROC:           s.roc,
		RemoteSSRC:    s.remoteSSRC,
		PacketsSent:   s.sent,
		OctetsSent:    s.sentBytes,
	}
	if s.srtpOut != nil {
		snap.SRTCPIndex, _ = s.srtpOut.Index(s.ssrc)
	}
	if s.srtpIn != nil {
		snap.RemoteROC, _ = s.srtpIn.ROC(s.remoteSSRC)
	}
	return snap
}

// Restore continues a stream from a snapshot: it binds the snapshot's
// ports (cfg.LocalAddr and the port range are not used) and, if the
// stream had started, sends on at once with the next sequence number and
// a timestamp advanced by the time since the snapshot, with the marker
// bit set as after any pause.
func Restore(cfg Config, snap Snapshot) (*Stream, error) {
	s, err := newStream(cfg)
	if err != nil {
		return nil, err
	}
	if !snap.LocalAddr.IsValid() || snap.LocalAddr.Port() == 0 {
		return nil, fmt.Errorf("rtpstream: restore: snapshot without a local port")
	}
	s.ssrc, s.seq, s.roc = snap.SSRC, snap.Seq, snap.ROC
	s.ts = snap.Timestamp
	if pause := time.Since(snap.Taken); pause > 0 && snap.Media.Send.ClockRate > 0 {
		s.ts += uint32(int64(pause.Seconds() * float64(snap.Media.Send.ClockRate)))
	}
	s.muted = snap.Muted
	s.sent, s.sentBytes, s.srOctets = snap.PacketsSent, snap.OctetsSent, uint32(snap.OctetsSent)
	s.remoteSSRC = snap.RemoteSSRC
	if err := s.listen(snap.LocalAddr, snap.LocalRTCPAddr.Port()); err != nil {
		return nil, fmt.Errorf("rtpstream: restore: %w", err)
	}
	if snap.Started {
		s.mu.Lock()
		err := s.apply(snap.Media)
		if err == nil {
			if snap.Remote.IsValid() {
				s.remote, s.latched = snap.Remote, snap.Remote != snap.Media.Remote
			}
			if snap.RemoteRTCP.IsValid() {
				s.remoteRTCP = snap.RemoteRTCP
			}
			if s.srtpOut != nil {
				s.srtpOut.SetIndex(s.ssrc, snap.SRTCPIndex)
			}
			if s.srtpIn != nil && snap.RemoteSSRC != 0 {
				s.srtpIn.SetROC(snap.RemoteSSRC, snap.RemoteROC)
			}
			s.started = true
			s.lastRTP = time.Now()
		}
		s.mu.Unlock()
		if err != nil {
			s.rtpConn.Close()
			s.rtcpConn.Close()
			return nil, fmt.Errorf("rtpstream: restore: %w", err)
		}
		s.wg.Add(1)
		go s.run()
	}
	s.goReceive()
	return s, nil
}

// Stats describes the stream's quality, both ways.
type Stats struct {
	SSRC       uint32
	RemoteSSRC uint32
	Remote     netip.AddrPort // where RTP goes

	PacketsSent     uint64
	OctetsSent      uint64 // payload bytes
	PacketsReceived uint64
	OctetsReceived  uint64

	// What we receive (RFC 3550 appendix A).
	Expected     uint64
	Lost         int64         // cumulative; duplicates can make it negative
	FractionLost float64       // 0..1, over the last RTCP interval (cumulative before the first)
	Jitter       time.Duration // interarrival jitter

	// What the peer reports about our stream in its last RTCP report.
	HaveRemoteReport   bool
	RemoteFractionLost float64
	RemoteLost         int64
	RemoteJitter       time.Duration
	RTT                time.Duration // round trip from LSR/DLSR; 0 until measured

	// Listening quality of what we receive, by EModel: the delay is half
	// the round trip plus the jitter buffer's depth.
	RFactor float64
	MOS     float64

	// CaptureUnderruns counts the times the captured audio ran dry while
	// it was being sent (the device fell behind: a gap went out);
	// CaptureDropped the captured samples dropped because the device ran
	// ahead of the stream's clock.
	CaptureUnderruns uint64
	CaptureDropped   uint64

	Dropped      uint64 // packets that were not RTP of this stream
	AuthFailures uint64 // SRTP or SRTCP packets that failed authentication
	Buffer       jitter.Stats
	NoRTP        bool // the no-RTP alarm is raised
}

// Stats returns the current statistics.
func (s *Stream) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{
		SSRC: s.ssrc, RemoteSSRC: s.remoteSSRC, Remote: s.remote,
		PacketsSent: s.sent, OctetsSent: s.sentBytes,
		PacketsReceived: s.recv.received, OctetsReceived: s.recv.octets,
		Expected: s.recv.expected(), Lost: s.recv.lost(),
		Jitter:  s.recv.jitterDuration(),
		RTT:     s.rtt,
		Dropped: s.dropped, AuthFailures: s.authFails,
		NoRTP: s.noRTP,
	}
	st.FractionLost = s.recv.fraction
	if !s.recv.haveFraction && st.Expected > 0 && st.Lost > 0 {
		st.FractionLost = float64(st.Lost) / float64(st.Expected)
	}
	if s.haveReport {
		rr := s.remoteReport
		st.HaveRemoteReport = true
		st.RemoteFractionLost = float64(rr.FractionLost) / 256
		st.RemoteLost = int64(int32(rr.TotalLost<<8) >> 8) // 24-bit signed
		if s.sendClock > 0 {
			st.RemoteJitter = frameDuration(int(rr.Jitter), s.sendClock)
		}
	}
	if s.jb != nil {
		st.Buffer = s.jb.Stats()
	}
	s.pcmMu.Lock()
	st.CaptureUnderruns, st.CaptureDropped = s.capture.underruns, s.capture.dropped
	s.pcmMu.Unlock()
	st.RFactor, st.MOS = EModel(s.rtt/2+st.Buffer.Target, st.Jitter, st.FractionLost)
	return st
}
