package rtpstream

import (
	"math"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/tandem-softphone/tandem/media/sdp"
)

// benchStream is a started stream without sockets, for the per-frame
// paths.
func benchStream(b *testing.B, codec sdp.Codec, rate int, secure bool) *Stream {
	b.Helper()
	s, err := newStream(Config{SampleRate: rate, Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	m := sdp.Media{
		Remote: netip.MustParseAddrPort("127.0.0.1:9"), RemoteRTCP: netip.MustParseAddrPort("127.0.0.1:9"), RTCPMux: true,
		Send: codec, Recv: []sdp.Codec{codec}, PTime: 20 * time.Millisecond,
	}
	if secure {
		key, _ := sdp.NewCrypto(sdp.SuiteAES128SHA1_80)
		m.Secure, m.LocalCrypto, m.RemoteCrypto = true, key, key
	}
	if err := s.apply(m); err != nil {
		b.Skipf("%v", err)
	}
	s.started = true
	return s
}

// BenchmarkSendFrame: encode and packetize one 20 ms frame, as the
// stream's clock does every packet interval.
func BenchmarkSendFrame(b *testing.B) {
	for _, c := range SupportedCodecs() {
		for _, secure := range []bool{false, true} {
			name := c.Name
			if secure {
				name += "+SRTP"
			}
			b.Run(name, func(b *testing.B) {
				rate := 8000
				if c.ClockRate == 48000 {
					rate = 48000
				}
				s := benchStream(b, c, rate, secure)
				frame := testSignalB(rate)
				b.ReportAllocs()
				for b.Loop() {
					payload, err := encodeFrame(s.enc, &s.encConv, frame, nil)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := s.packet(c.PayloadType, s.ts, false, payload); err != nil {
						b.Fatal(err)
					}
					s.seq++
					s.ts += uint32(c.ClockRate / 50)
				}
			})
		}
	}
}

// BenchmarkReceiveFrame: take in one packet (parse, statistics, jitter
// buffer push) and play out one frame (jitter buffer pop, decode).
func BenchmarkReceiveFrame(b *testing.B) {
	for _, c := range SupportedCodecs() {
		b.Run(c.Name, func(b *testing.B) {
			rate := 8000
			if c.ClockRate == 48000 {
				rate = 48000
			}
			s := benchStream(b, c, rate, false)
			payload, err := encodeFrame(s.enc, &s.encConv, testSignalB(rate), nil)
			if err != nil {
				b.Fatal(err)
			}
			from := netip.MustParseAddrPort("127.0.0.1:9")
			now := time.Unix(1000, 0)
			step := uint32(c.ClockRate / 50)
			pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: c.PayloadType, SSRC: 5}, Payload: payload}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				pkt.SequenceNumber, pkt.Timestamp = uint16(i), uint32(i)*step
				data, _ := pkt.Marshal()
				s.handleRTP(data, from, now)
				now = now.Add(20 * time.Millisecond)
				s.playFrames(now, now)
				i++
			}
			s.pcmMu.Lock()
			s.playout = s.playout[:0]
			s.pcmMu.Unlock()
		})
	}
}

func testSignalB(rate int) []int16 {
	f := make([]int16, rate/50)
	for i := range f {
		f[i] = int16(8000 * math.Sin(2*math.Pi*440*float64(i)/float64(rate)))
	}
	return f
}

// BenchmarkSendInterval runs a real stream for b.N packets and reports
// the spread of the interval between them as they arrive on loopback:
// the regularity of the stream's clock.
func BenchmarkSendInterval(b *testing.B) {
	peer := newRawPeer(b)
	s, err := Open(Config{LocalAddr: netip.AddrPortFrom(loopback, 0), Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if err := s.Start(mediaTo(peer.addr())); err != nil {
		b.Fatal(err)
	}
	for peer.count() < b.N+1 {
		time.Sleep(10 * time.Millisecond)
	}
	peer.mu.Lock()
	at := slices.Clone(peer.at[:b.N+1])
	peer.mu.Unlock()
	var sum, sq, worst float64
	for i := 1; i < len(at); i++ {
		d := float64(at[i].Sub(at[i-1])) / float64(time.Millisecond)
		sum += d
		sq += d * d
		worst = math.Max(worst, math.Abs(d-20))
	}
	n := float64(len(at) - 1)
	mean := sum / n
	b.ReportMetric(mean, "ms-mean-interval")
	b.ReportMetric(math.Sqrt(math.Max(sq/n-mean*mean, 0)), "ms-stddev")
	b.ReportMetric(worst, "ms-worst-deviation")
}
