package rtpstream

import (
	"errors"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/tandem-softphone/tandem/media/g711"
	"github.com/tandem-softphone/tandem/media/sdp"
)

// exchange sends a test signal both ways at once and checks that each side
// hears what the other sent.
func exchange(t *testing.T, a, b *Stream, rate int) {
	t.Helper()
	src := testSignal(t, rate, 1500*time.Millisecond)
	var heardByB, heardByA []int16
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); heardByB = talk(a, b, rate, src) }()
	go func() { defer wg.Done(); heardByA = talk(b, a, rate, src) }()
	wg.Wait()
	heardWell(t, "A to B", rate, src, heardByB)
	heardWell(t, "B to A", rate, src, heardByA)
}

func TestG711RoundTrip(t *testing.T) {
	for _, codec := range []sdp.Codec{sdp.PCMU, sdp.PCMA} {
		t.Run(codec.Name, func(t *testing.T) {
			a, b, ma, _ := pair(t, fastConfig(nil), fastConfig(nil), func(a, b *sdp.Local) {
				a.Codecs, b.Codecs = []sdp.Codec{codec}, []sdp.Codec{sdp.PCMU, sdp.PCMA}
			})
			if !ma.Send.Same(codec) {
				t.Fatalf("negotiated %v", ma.Send)
			}
			exchange(t, a, b, 8000)
			st := b.Stats()
			if st.PacketsReceived < 20 || st.Lost != 0 || st.RemoteSSRC != a.SSRC() {
				t.Errorf("B's stats: %+v", st)
			}
		})
	}
}

// A device at 48 kHz on a G.711 call: the stream converts the rates.
func TestG711At48kHz(t *testing.T) {
	cfg := fastConfig(nil)
	cfg.SampleRate = 48000
	a, b, _, _ := pair(t, cfg, cfg, nil)
	exchange(t, a, b, 48000)
}

func TestOpenRejectsBadConfig(t *testing.T) {
	for name, cfg := range map[string]Config{
		"rate":  {SampleRate: 44100},
		"range": {PortMin: 5000, PortMax: 4000},
		"odd":   {LocalAddr: netip.AddrPortFrom(loopback, 0), PortMin: 40001, PortMax: 40001},
	} {
		if s, err := Open(cfg); err == nil {
			s.Close()
			t.Errorf("%s: Open succeeded", name)
		}
	}
}

func TestPortRange(t *testing.T) {
	cfg := fastConfig(nil)
	cfg.PortMin, cfg.PortMax = 41000, 41100
	s := openStream(t, cfg)
	p := s.LocalAddr().Port()
	if p < 41000 || p > 41099 || p%2 != 0 || s.LocalRTCPAddr().Port() != p+1 {
		t.Errorf("ports %v / %v: want an even pair within 41000-41100", s.LocalAddr(), s.LocalRTCPAddr())
	}
}

func TestStartErrors(t *testing.T) {
	s := openStream(t, fastConfig(nil))
	m := sdp.Media{Remote: netip.AddrPortFrom(loopback, 9), Send: sdp.PCMU, Recv: []sdp.Codec{sdp.PCMU}, PTime: 20 * time.Millisecond}
	if err := s.Update(m); !errors.Is(err, ErrNotStarted) {
		t.Errorf("Update before Start: %v", err)
	}
	if err := s.SendDTMF("1", 0); !errors.Is(err, ErrNotStarted) {
		t.Errorf("SendDTMF before Start: %v", err)
	}
	bad := m
	bad.Send = sdp.Codec{PayloadType: 18, Name: "G729", ClockRate: 8000}
	if err := s.Start(bad); err == nil {
		t.Errorf("Start with G.729 succeeded")
	}
	bad = m
	bad.Remote = netip.AddrPort{}
	if err := s.Start(bad); err == nil {
		t.Errorf("Start without a remote succeeded")
	}
	if err := s.Start(m); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(m); !errors.Is(err, ErrStarted) {
		t.Errorf("second Start: %v", err)
	}
	if err := s.SendDTMF("1", 0); !errors.Is(err, ErrNoDTMF) {
		t.Errorf("SendDTMF without telephone-event: %v", err)
	}
	s.Close()
	if err := s.Update(m); !errors.Is(err, ErrClosed) {
		t.Errorf("Update after Close: %v", err)
	}
}

func TestDTMFBothWays(t *testing.T) {
	var evA, evB events
	a, b, _, _ := pair(t, fastConfig(&evA), fastConfig(&evB), nil)
	if err := a.SendDTMF("12#", 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := b.SendDTMF("9*D", 160*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := a.SendDTMF("x", 0); err == nil {
		t.Errorf("SendDTMF accepted 'x'")
	}
	check := func(name string, ev *events, want string, dur time.Duration) {
		eventually(t, name+" digits", func() bool { return len(ev.of(EventDTMF)) >= len(want) })
		time.Sleep(100 * time.Millisecond) // no repeat reports come later
		got := ev.of(EventDTMF)
		var digits []rune
		for _, e := range got {
			digits = append(digits, e.Digit)
			if e.Duration < dur-20*time.Millisecond || e.Duration > dur+20*time.Millisecond {
				t.Errorf("%s: digit %c lasted %v: want about %v", name, e.Digit, e.Duration, dur)
			}
		}
		if string(digits) != want {
			t.Errorf("%s heard %q: want %q", name, string(digits), want)
		}
	}
	check("B", &evB, "12#", 100*time.Millisecond)
	check("A", &evA, "9*D", 160*time.Millisecond)
}

// rawPeer is a bare UDP socket that records the RTP it receives.
type rawPeer struct {
	conn *net.UDPConn
	mu   sync.Mutex
	pkts []rtp.Packet
	from []netip.AddrPort
	at   []time.Time
}

func newRawPeer(t testing.TB) *rawPeer {
	t.Helper()
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, 0)))
	if err != nil {
		t.Fatal(err)
	}
	p := &rawPeer{conn: c}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			n, from, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			var pkt rtp.Packet
			if isRTCP(buf[:n]) || pkt.Unmarshal(slices.Clone(buf[:n])) != nil {
				continue
			}
			p.mu.Lock()
			p.pkts, p.from, p.at = append(p.pkts, pkt), append(p.from, from), append(p.at, time.Now())
			p.mu.Unlock()
		}
	}()
	t.Cleanup(func() { c.Close(); <-done })
	return p
}

func (p *rawPeer) addr() netip.AddrPort { return p.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

func (p *rawPeer) packets() []rtp.Packet {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.pkts)
}

func (p *rawPeer) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.pkts)
}

func mediaTo(peer netip.AddrPort) sdp.Media {
	return sdp.Media{
		Remote: peer, RemoteRTCP: peer, RTCPMux: true,
		Send: sdp.PCMU, SendDTMF: sdp.TelephoneEvent, Recv: []sdp.Codec{sdp.PCMU, sdp.TelephoneEvent},
		PTime: 20 * time.Millisecond,
	}
}

// The RFC 4733 packets on the wire: one timestamp per event, the marker on
// the first packet, growing durations, and the end packet three times.
func TestDTMFPacketsOnTheWire(t *testing.T) {
	peer := newRawPeer(t)
	s := openStream(t, fastConfig(nil))
	if err := s.Start(mediaTo(peer.addr())); err != nil {
		t.Fatal(err)
	}
	if err := s.SendDTMF("5", 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	var events []rtp.Packet
	eventually(t, "three end packets", func() bool {
		events = events[:0]
		ends := 0
		for _, p := range peer.packets() {
			if p.PayloadType == sdp.TelephoneEvent.PayloadType {
				events = append(events, p)
				if p.Payload[1]&0x80 != 0 {
					ends++
				}
			}
		}
		return ends == 3
	})
	if !events[0].Marker || slices.ContainsFunc(events[1:], func(p rtp.Packet) bool { return p.Marker }) {
		t.Errorf("marker bits wrong")
	}
	prevDur := 0
	for i, p := range events {
		if p.Timestamp != events[0].Timestamp || p.Payload[0] != 5 {
			t.Errorf("packet %d: timestamp %d event %d", i, p.Timestamp, p.Payload[0])
		}
		if i > 0 && p.SequenceNumber != events[i-1].SequenceNumber+1 {
			t.Errorf("packet %d: sequence %d after %d", i, p.SequenceNumber, events[i-1].SequenceNumber)
		}
		dur := int(p.Payload[2])<<8 | int(p.Payload[3])
		if dur < prevDur {
			t.Errorf("packet %d: duration fell from %d to %d", i, prevDur, dur)
		}
		prevDur = dur
	}
	if prevDur != 800 {
		t.Errorf("final duration %d: want 800 (100 ms at 8 kHz)", prevDur)
	}
	// One packet per 20 ms, the last an end, and 2 repeats; fewer when a
	// busy machine made the stream skip frames.
	if n := len(events); n < 4 || n > 5+2 {
		t.Errorf("%d event packets: want 5 and 2 repeats", n)
	}
}

// Media flows from the first moment, muted or not, so that NATs open;
// muted frames are silence.
func TestMuteSendsSilence(t *testing.T) {
	peer := newRawPeer(t)
	s := openStream(t, fastConfig(nil))
	s.SetMute(true)
	if !s.Muted() {
		t.Fatal("not muted")
	}
	if err := s.Start(mediaTo(peer.addr())); err != nil {
		t.Fatal(err)
	}
	loud := testSignal(t, 8000, 20*time.Millisecond)
	stop := make(chan struct{})
	go func() {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				s.Write(loud[:80])
			}
		}
	}()
	defer close(stop)
	eventually(t, "muted packets", func() bool { return peer.count() >= 10 })
	for _, p := range peer.packets() {
		for _, b := range p.Payload {
			if b != 0xFF && b != 0x7F { // µ-law zero, either sign
				t.Fatalf("muted packet carries audio: %x", p.Payload[:8])
			}
		}
	}
	if !peer.packets()[0].Marker {
		t.Errorf("the first packet has no marker bit")
	}
	s.SetMute(false)
	eventually(t, "audio after unmute", func() bool {
		pk := peer.packets()
		return energy(g711.DecodeUlaw(pk[len(pk)-1].Payload, nil)) > 1000
	})
}

func TestHoldStopsSending(t *testing.T) {
	a, b, _, _ := pair(t, fastConfig(nil), fastConfig(nil), nil)
	eventually(t, "media both ways", func() bool {
		return a.Stats().PacketsReceived > 5 && b.Stats().PacketsReceived > 5
	})
	// A holds: sendonly; B, answering, becomes recvonly.
	if err := a.SetDirection(sdp.SendOnly); err != nil {
		t.Fatal(err)
	}
	if err := b.SetDirection(sdp.RecvOnly); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // packets in flight arrive
	before := a.Stats().PacketsReceived
	sentA := a.Stats().PacketsSent
	time.Sleep(300 * time.Millisecond)
	if got := a.Stats().PacketsReceived; got != before {
		t.Errorf("B sent %d packets while recvonly", got-before)
	}
	if a.Stats().PacketsSent <= sentA {
		t.Errorf("A stopped sending while sendonly")
	}
	if err := a.SendDTMF("1", 0); err != nil {
		t.Errorf("SendDTMF while sendonly: %v", err)
	}
	if err := b.SendDTMF("1", 0); !errors.Is(err, ErrNotSending) {
		t.Errorf("SendDTMF while recvonly: %v", err)
	}
	// Inactive both ways, then resume.
	a.SetDirection(sdp.Inactive)
	b.SetDirection(sdp.Inactive)
	time.Sleep(100 * time.Millisecond)
	sa, sb := a.Stats().PacketsSent, b.Stats().PacketsSent
	time.Sleep(200 * time.Millisecond)
	if a.Stats().PacketsSent != sa || b.Stats().PacketsSent != sb {
		t.Errorf("inactive streams sent RTP")
	}
	a.SetDirection(sdp.SendRecv)
	b.SetDirection(sdp.SendRecv)
	eventually(t, "media after resume", func() bool { return a.Stats().PacketsReceived > before+5 })
	ssrc := b.SSRC()
	if a.Stats().RemoteSSRC != ssrc {
		t.Errorf("the SSRC changed over hold")
	}
}

// Symmetric RTP: B was told a wrong address for A (as behind a NAT); it
// sends to where A's media really comes from once it arrives.
func TestSymmetricRTP(t *testing.T) {
	var evB events
	a, b := openStream(t, fastConfig(nil)), openStream(t, fastConfig(&evB))
	la, lb := localFor(a, sdp.PCMU), localFor(b, sdp.PCMU)
	la.RTCPMux, lb.RTCPMux = true, true
	ma, mb := negotiate(t, la, lb)
	dead, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, 0)))
	if err != nil {
		t.Fatal(err)
	}
	defer dead.Close()
	mb.Remote = dead.LocalAddr().(*net.UDPAddr).AddrPort()
	mb.RemoteRTCP = mb.Remote
	if err := b.Start(mb); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if a.Stats().PacketsReceived != 0 {
		t.Fatal("A received before B learnt its address")
	}
	if err := a.Start(ma); err != nil {
		t.Fatal(err)
	}
	eventually(t, "B's media reaching A", func() bool { return a.Stats().PacketsReceived > 5 })
	got := evB.of(EventRemoteLatched)
	if len(got) != 1 || got[0].Addr != a.LocalAddr() {
		t.Errorf("latch events %+v: want one to %v", got, a.LocalAddr())
	}
	if b.Stats().Remote != a.LocalAddr() {
		t.Errorf("B sends to %v", b.Stats().Remote)
	}
	eventually(t, "RTT over the latched path", func() bool { return a.Stats().RTT > 0 })
}

// A stray packet from elsewhere does not take the stream while the peer's
// media flows.
func TestStrayPacketDoesNotRelatch(t *testing.T) {
	a, b, _, _ := pair(t, fastConfig(nil), fastConfig(nil), nil)
	eventually(t, "media", func() bool { return b.Stats().PacketsReceived > 5 })
	stray := newRawPeer(t)
	pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: 1, SSRC: 42}, Payload: make([]byte, 160)}
	buf, _ := pkt.Marshal()
	if _, err := stray.conn.WriteToUDPAddrPort(buf, b.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if b.Stats().Remote != a.LocalAddr() {
		t.Errorf("B now sends to %v", b.Stats().Remote)
	}
}

func TestNoRTPAlarm(t *testing.T) {
	var ev events
	cfg := fastConfig(&ev)
	cfg.NoRTPTimeout = 300 * time.Millisecond
	peer := newRawPeer(t)
	s := openStream(t, cfg)
	if err := s.Start(mediaTo(peer.addr())); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the no-RTP alarm", func() bool { return len(ev.of(EventNoRTP)) == 1 })
	if e := ev.of(EventNoRTP)[0]; e.Silence < 300*time.Millisecond || !s.Stats().NoRTP {
		t.Errorf("alarm %+v, stats NoRTP %v", e, s.Stats().NoRTP)
	}
	if len(ev.of(EventRTPResumed)) != 0 {
		t.Fatal("resumed before any RTP")
	}
	pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: 7, SSRC: 99}, Payload: make([]byte, 160)}
	buf, _ := pkt.Marshal()
	if _, err := peer.conn.WriteToUDPAddrPort(buf, s.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the resumed event", func() bool { return len(ev.of(EventRTPResumed)) == 1 })
	if s.Stats().NoRTP {
		t.Error("alarm still raised")
	}
	// Quiet again: a second alarm.
	eventually(t, "a second alarm", func() bool { return len(ev.of(EventNoRTP)) == 2 })
	// On hold (the peer sends nothing by agreement) there is no alarm.
	m := s.Media()
	m.Direction = sdp.SendOnly
	if err := s.Update(m); err != nil {
		t.Fatal(err)
	}
	if _, err := peer.conn.WriteToUDPAddrPort(buf, s.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	eventually(t, "resumed", func() bool { return len(ev.of(EventRTPResumed)) == 2 })
	time.Sleep(600 * time.Millisecond)
	if n := len(ev.of(EventNoRTP)); n != 2 {
		t.Errorf("%d alarms while on hold", n)
	}
}

func TestNoRTPAlarmDisabled(t *testing.T) {
	var ev events
	cfg := fastConfig(&ev)
	cfg.NoRTPTimeout = -1
	peer := newRawPeer(t)
	s := openStream(t, cfg)
	if err := s.Start(mediaTo(peer.addr())); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if len(ev.of(EventNoRTP)) != 0 {
		t.Error("alarm raised although disabled")
	}
}

// Packets that are not RTP of this stream are counted and dropped, never
// played.
func TestReceiveDropsForeignPackets(t *testing.T) {
	peer := newRawPeer(t)
	s := openStream(t, fastConfig(nil))
	if err := s.Start(mediaTo(peer.addr())); err != nil {
		t.Fatal(err)
	}
	unknownPT := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SSRC: 5}, Payload: []byte{1, 2, 3}}
	b1, _ := unknownPT.Marshal()
	for _, b := range [][]byte{{0x80}, []byte("hello world, not RTP"), b1, {0x80, 200, 0, 1}} {
		peer.conn.WriteToUDPAddrPort(b, s.LocalAddr())
	}
	eventually(t, "drops", func() bool { return s.Stats().Dropped >= 4 })
	if st := s.Stats(); st.PacketsReceived != 0 {
		t.Errorf("received %d packets", st.PacketsReceived)
	}
}

// After hold, media resumes as a new talkspurt: marker bit set, the
// timestamp moved on by the time held, the sequence unbroken.
func TestResumeAfterHold(t *testing.T) {
	peer := newRawPeer(t)
	s := openStream(t, fastConfig(nil))
	if err := s.Start(mediaTo(peer.addr())); err != nil {
		t.Fatal(err)
	}
	eventually(t, "packets", func() bool { return peer.count() >= 5 })
	if err := s.SetDirection(sdp.Inactive); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	n := peer.count()
	time.Sleep(200 * time.Millisecond)
	if err := s.SetDirection(sdp.SendRecv); err != nil {
		t.Fatal(err)
	}
	eventually(t, "packets after resume", func() bool { return peer.count() >= n+3 })
	pkts := peer.packets()
	before, after := pkts[n-1], pkts[n]
	if !after.Marker || after.SequenceNumber != before.SequenceNumber+1 {
		t.Errorf("resume: marker %v, sequence %d after %d", after.Marker, after.SequenceNumber, before.SequenceNumber)
	}
	if gap := time.Duration(after.Timestamp-before.Timestamp) * time.Second / 8000; gap < 200*time.Millisecond {
		t.Errorf("timestamp moved %v over a hold of more than 200 ms", gap)
	}
}
