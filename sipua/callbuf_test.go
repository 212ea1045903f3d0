package sipua

import (
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"hash/crc32"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/tandem-softphone/tandem/media/rtpstream"
	"github.com/tandem-softphone/tandem/media/sdp"
)

// updateGolden rewrites the golden buffer of the current version:
// go test ./sipua -run TestGoldenBuffer -update-golden. Never for a
// released version: its buffer must stay as it was written.
var updateGolden = flag.Bool("update-golden", false, "write the golden call buffer of the current format version")

// The golden call's fixed loopback ports, below Linux's ephemeral range
// so that they are seldom taken: the peer's SIP port and RTP port, and
// our stored RTP port.
const (
	goldenPeerSIP  = 29060
	goldenPeerRTP  = 29062
	goldenLocalRTP = 29070
)

var goldenV1 = filepath.Join("testdata", "buffers", "call-v1.bin")

// goldenRecord is the call the version 1 golden buffer holds: an incoming
// call of DN 2001 at site1 from 1001, through one loose router (the peer
// itself), G.711 µ-law both ways with telephone-event.
func goldenRecord() *callRecord {
	peer := fmt.Sprintf("127.0.0.1:%d", goldenPeerSIP)
	return &callRecord{
		ID:         "g0lden01",
		Direction:  Incoming,
		Site:       "site1",
		User:       "2001",
		State:      CallConnected,
		MediaUp:    true,
		Created:    time.Unix(1767225600, 0),
		Answered:   time.Unix(1767225602, 500),
		ReferredBy: "<sip:3001@site1.test>",
		Dialog: DialogState{
			CallID:       "golden-call@127.0.0.1",
			LocalTag:     "ltag-golden",
			RemoteTag:    "rtag-golden",
			LocalURI:     "sip:2001@site1.test",
			RemoteURI:    "sip:1001@site1.test",
			RemoteName:   "Peer One",
			LocalCSeq:    7,
			RemoteCSeq:   3,
			RouteSet:     []string{"sip:" + peer + ";lr"},
			RemoteTarget: "sip:1001@" + peer,
			LocalContact: "sip:2001@127.0.0.1:5060",
			Transport:    TransportUDP,
		},
		Local: sdp.Local{
			Username:  "tandem",
			SessionID: 4242,
			Version:   2,
			Address:   netip.MustParseAddr("127.0.0.1"),
			Port:      goldenLocalRTP,
			RTCPPort:  goldenLocalRTP + 1,
			Codecs:    []sdp.Codec{sdp.PCMU, sdp.PCMA},
		},
		Stream: rtpstream.Snapshot{
			Taken:         time.Unix(1767225660, 0),
			LocalAddr:     netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), goldenLocalRTP),
			LocalRTCPAddr: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), goldenLocalRTP+1),
			Started:       true,
			Media: sdp.Media{
				Remote:     netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), goldenPeerRTP),
				RemoteRTCP: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), goldenPeerRTP+1),
				Send:       sdp.PCMU,
				SendDTMF:   sdp.TelephoneEvent,
				Recv:       []sdp.Codec{sdp.PCMU, sdp.PCMA, sdp.TelephoneEvent},
				PTime:      20 * time.Millisecond,
			},
			Remote:      netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), goldenPeerRTP),
			RemoteRTCP:  netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), goldenPeerRTP+1),
			SSRC:        0x5eed1234,
			Seq:         31000,
			Timestamp:   96000,
			RemoteSSRC:  0x0ddba11,
			PacketsSent: 3000,
			OctetsSent:  480000,
		},
		AnyMediaPort: true,
	}
}

// writeFuzzSeed writes data as a seed of FuzzDecodeCallBuffer.
func writeFuzzSeed(t *testing.T, name string, data []byte) {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", "FuzzDecodeCallBuffer")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	body := "go test fuzz v1\n[]byte(" + strconv.Quote(string(data)) + ")\n"
	if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// BC-28: the golden buffer of version 1 still decodes to the call it was
// written from, and restores into a fresh endpoint as a working call.
func TestGoldenBuffer(t *testing.T) {
	if *updateGolden {
		buf := appendCallBuffer(nil, goldenRecord())
		if err := os.MkdirAll(filepath.Dir(goldenV1), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(goldenV1, buf, 0o644); err != nil {
			t.Fatal(err)
		}
		writeFuzzSeed(t, "golden-v1", buf)
		writeFuzzSeed(t, "truncated-v1", buf[:len(buf)/2])
		writeFuzzSeed(t, "foreign", []byte("RIFF\x24\x00\x00\x00WAVEfmt "))
	}
	buf, err := os.ReadFile(goldenV1)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := decodeCallBuffer(buf)
	if err != nil {
		t.Fatalf("decode the golden buffer: %v", err)
	}
	if want := goldenRecord(); !reflect.DeepEqual(rec, want) {
		t.Fatalf("golden buffer decodes to\n%+v\nwant\n%+v", rec, want)
	}

	peer := startGoldenPeer(t)
	s := startSite(t, "site1.test", nil)
	p := newPhone(t, s, "2001", phoneOptions{})
	c, err := p.ep.RestoreCall(buf)
	if err != nil {
		t.Fatalf("RestoreCall: %v", err)
	}
	if info := c.Info(); info.State != CallConnected || info.PeerName != "Peer One" || info.Direction != Incoming {
		t.Fatalf("restored golden call: %+v", info)
	}
	// The stream continues: same SSRC, the stored sequence number next.
	first := peer.firstRTP(t)
	if ssrc := binary.BigEndian.Uint32(first[8:]); ssrc != 0x5eed1234 {
		t.Fatalf("RTP of SSRC %08x, want 5eed1234", ssrc)
	}
	if seq := binary.BigEndian.Uint16(first[2:]); seq != 31000 {
		t.Fatalf("first RTP sequence number %d, want 31000", seq)
	}
	// The dialog continues: the next CSeq, through the route set.
	if err := c.Hold(); err != nil {
		t.Fatalf("Hold: %v", err)
	}
	if err := c.Hangup(); err != nil {
		t.Fatal(err)
	}
	waitEnded(t, c, EndLocalHangup)
	if got := peer.requests(); !reflect.DeepEqual(got, []string{"INVITE 8", "BYE 9"}) {
		t.Fatalf("the peer got %v, want the re-INVITE with CSeq 8 and the BYE with 9", got)
	}
}

// goldenPeer plays the golden call's peer on its fixed ports.
type goldenPeer struct {
	rtp   net.PacketConn
	mu    sync.Mutex
	reqs  []string // "METHOD CSeq"
	local sdp.Local
}

func startGoldenPeer(t *testing.T) *goldenPeer {
	t.Helper()
	sipConn, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", goldenPeerSIP))
	if err != nil {
		t.Skipf("the golden call's peer port is taken: %v", err)
	}
	rtp, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", goldenPeerRTP))
	if err != nil {
		sipConn.Close()
		t.Skipf("the golden call's peer RTP port is taken: %v", err)
	}
	p := &goldenPeer{rtp: rtp, local: sdp.Local{
		Address: netip.MustParseAddr("127.0.0.1"), Port: goldenPeerRTP, Codecs: []sdp.Codec{sdp.PCMU},
	}}
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("golden-peer"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sipgo.NewServer(ua)
	if err != nil {
		t.Fatal(err)
	}
	srv.OnInvite(func(req *sip.Request, tx sip.ServerTransaction) {
		p.record(req)
		answer, _, err := sdp.Answer(&p.local, req.Body())
		if err != nil {
			tx.Respond(sip.NewResponseFromRequest(req, 488, "Not Acceptable Here", nil))
			return
		}
		res := sip.NewResponseFromRequest(req, 200, "OK", answer)
		res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		res.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "1001", Host: "127.0.0.1", Port: goldenPeerSIP}})
		tx.Respond(res)
	})
	srv.OnAck(func(*sip.Request, sip.ServerTransaction) {})
	srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		p.record(req)
		tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	})
	done := make(chan struct{})
	go func() { srv.ServeUDP(sipConn); close(done) }()
	t.Cleanup(func() { ua.Close(); sipConn.Close(); rtp.Close(); <-done })
	return p
}

func (p *goldenPeer) record(req *sip.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reqs = append(p.reqs, fmt.Sprintf("%s %d", req.Method, req.CSeq().SeqNo))
}

func (p *goldenPeer) requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.reqs...)
}

// firstRTP is the first RTP packet that reaches the peer.
func (p *goldenPeer) firstRTP(t *testing.T) []byte {
	t.Helper()
	if err := p.rtp.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1500)
	n, _, err := p.rtp.ReadFrom(buf)
	if err != nil {
		t.Fatalf("no RTP at the peer: %v", err)
	}
	if n < 12 {
		t.Fatalf("RTP packet of %d bytes", n)
	}
	return buf[:n]
}

// reseal recomputes the checksum of a buffer edited by a test.
func reseal(buf []byte) []byte {
	out := append([]byte(nil), buf...)
	binary.BigEndian.PutUint32(out[len(out)-4:], crc32.ChecksumIEEE(out[:len(out)-4]))
	return out
}

// BC-29: damaged, truncated and foreign buffers give a clear error.
func TestBadBuffers(t *testing.T) {
	buf, err := os.ReadFile(goldenV1)
	if err != nil {
		t.Fatal(err)
	}
	for i := range len(buf) * 8 {
		bad := append([]byte(nil), buf...)
		bad[i/8] ^= 1 << (i % 8)
		if _, err := decodeCallBuffer(bad); err == nil {
			t.Fatalf("bit %d flipped: no error", i)
		}
	}
	for n := range len(buf) {
		_, err := decodeCallBuffer(buf[:n])
		want := ErrBufferTruncated
		if n < len(bufMagic) {
			want = ErrBufferForeign
		}
		if !errors.Is(err, want) {
			t.Fatalf("truncated to %d bytes: %v, want %v", n, err, want)
		}
	}
	newer := append([]byte(nil), buf...)
	binary.BigEndian.PutUint16(newer[8:], 2)
	longer := append(append([]byte(nil), buf...), 0)
	notConnected := goldenRecord()
	notConnected.State = CallRinging
	for _, tc := range []struct {
		name string
		buf  []byte
		want error
	}{
		{"empty", nil, ErrBufferForeign},
		{"wav", []byte("RIFF\x24\x00\x00\x00WAVEfmt "), ErrBufferForeign},
		{"newer version", reseal(newer), ErrBufferVersion},
		{"trailing bytes", longer, ErrBufferDamaged},
		{"not connected", appendCallBuffer(nil, notConnected), ErrBufferDamaged},
	} {
		if _, err := decodeCallBuffer(tc.buf); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	// RestoreCall reports the same, before it needs an endpoint.
	e, err := New(fastOptions(Account{Site: "site1", Registrar: "127.0.0.1:5060", User: "2001"}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.RestoreCall(buf[:40]); !errors.Is(err, ErrBufferTruncated) {
		t.Fatalf("RestoreCall of a truncated buffer: %v", err)
	}
}

// BC-29: the decoder never panics, and what it accepts encodes and
// decodes to itself.
func FuzzDecodeCallBuffer(f *testing.F) {
	if buf, err := os.ReadFile(goldenV1); err == nil {
		f.Add(buf)
	}
	withTransfer := goldenRecord()
	withTransfer.Refer = referSubRecord{Role: referRoleSubscriber, Code: 180}
	f.Add(appendCallBuffer(nil, withTransfer))
	f.Fuzz(func(t *testing.T, buf []byte) {
		rec, err := decodeCallBuffer(buf)
		if err != nil {
			return
		}
		again, err := decodeCallBuffer(appendCallBuffer(nil, rec))
		if err != nil {
			t.Fatalf("re-encoded buffer refused: %v", err)
		}
		if !reflect.DeepEqual(again, rec) {
			t.Fatalf("round trip changed the call:\n%+v\n%+v", rec, again)
		}
	})
}
