package rtpstream

import (
	"net/netip"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"

	"github.com/tandem-softphone/tandem/media/sdp"
)

// FuzzReceive feeds arbitrary datagrams to a started stream's RTP and RTCP
// handling and plays out what got buffered: nothing may panic, whatever
// the peer or an attacker sends.
func FuzzReceive(f *testing.F) {
	audio, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: 9, Timestamp: 160, SSRC: 1}, Payload: make([]byte, 160)}).Marshal()
	dtmf, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 101, SequenceNumber: 10, SSRC: 1}, Payload: []byte{5, 0x8a, 3, 0x20}}).Marshal()
	opus, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: 11, SSRC: 1}, Payload: []byte{0xfc, 0xff, 0xfe}}).Marshal()
	sr, _ := rtcp.Marshal([]rtcp.Packet{&rtcp.SenderReport{SSRC: 1, NTPTime: 1 << 40, Reports: []rtcp.ReceptionReport{{SSRC: 2, LastSenderReport: 5}}}})
	for _, seed := range [][]byte{audio, dtmf, opus, sr, {0x80}, {}} {
		f.Add(seed, false)
		f.Add(seed, true)
	}
	f.Fuzz(func(t *testing.T, data []byte, secure bool) {
		s, err := newStream(Config{Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		m := sdp.Media{
			Remote: netip.MustParseAddrPort("127.0.0.1:9"), RemoteRTCP: netip.MustParseAddrPort("127.0.0.1:9"), RTCPMux: true,
			Send: sdp.PCMU, SendDTMF: sdp.TelephoneEvent, PTime: 20 * time.Millisecond,
			Recv: append([]sdp.Codec{sdp.PCMU, sdp.PCMA, sdp.TelephoneEvent}, SupportedCodecs()[2:]...),
		}
		if secure {
			key, _ := sdp.NewCrypto(sdp.SuiteAES128SHA1_80)
			m.Secure, m.LocalCrypto, m.RemoteCrypto = true, key, key
		}
		s.ssrc = 2
		if err := s.apply(m); err != nil {
			t.Fatal(err)
		}
		s.started = true
		now := time.Unix(1000, 0)
		from := netip.MustParseAddrPort("127.0.0.1:7")
		if isRTCP(data) {
			s.handleRTCP(data, from, now, false)
		} else {
			s.handleRTP(data, from, now)
		}
		s.handleRTCP(data, from, now, true)
		s.mu.Lock()
		s.playFrames(now.Add(time.Second), now)
		s.mu.Unlock()
		_ = s.Stats()
	})
}
