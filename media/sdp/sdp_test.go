package sdp

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func local(port int) *Local {
	return &Local{Address: netip.MustParseAddr("127.0.0.1"), Port: port}
}

func mustOffer(t *testing.T, l *Local) []byte {
	t.Helper()
	b, err := Offer(l)
	if err != nil {
		t.Fatalf("Offer: %v", err)
	}
	return b
}

func hasLine(body []byte, line string) bool {
	return slices.Contains(strings.Split(strings.ReplaceAll(string(body), "\r\n", "\n"), "\n"), line)
}

func wantLines(t *testing.T, body []byte, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if !hasLine(body, l) {
			t.Errorf("no line %q in\n%s", l, body)
		}
	}
}

func wantRefusal(t *testing.T, err error, reason error, warn int) {
	t.Helper()
	var na *NotAcceptableError
	if !errors.As(err, &na) {
		t.Fatalf("error %v (%T): want a *NotAcceptableError", err, err)
	}
	if !errors.Is(err, reason) || na.Warn != warn {
		t.Fatalf("error %v (warn %d): want %v with warn %d", err, na.Warn, reason, warn)
	}
}

func TestOfferDefault(t *testing.T) {
	b := mustOffer(t, local(4000))
	wantLines(t, b,
		"v=0",
		"c=IN IP4 127.0.0.1",
		"m=audio 4000 RTP/AVP 0 8 101",
		"a=rtpmap:0 PCMU/8000",
		"a=rtpmap:8 PCMA/8000",
		"a=rtpmap:101 telephone-event/8000",
		"a=fmtp:101 0-16",
		"a=ptime:20",
		"a=sendrecv",
	)
	if strings.Contains(string(b), "crypto") || strings.Contains(string(b), "rtcp") {
		t.Errorf("unexpected crypto or rtcp attribute:\n%s", b)
	}
}

func TestOfferOpusAndOptions(t *testing.T) {
	l := local(4000)
	l.Codecs = []Codec{PCMU, PCMA, Opus}
	l.RTCPMux = true
	l.Direction = SendOnly
	l.PTime = 30 * time.Millisecond
	b := mustOffer(t, l)
	wantLines(t, b,
		"m=audio 4000 RTP/AVP 0 8 111 101 110",
		"a=rtpmap:111 opus/48000/2",
		"a=fmtp:111 minptime=10;useinbandfec=1",
		"a=rtpmap:110 telephone-event/48000",
		"a=rtcp-mux",
		"a=sendonly",
		"a=ptime:30",
	)

	l = local(4000)
	l.RTCPPort = 5001
	l.NoDTMF = true
	b = mustOffer(t, l)
	wantLines(t, b, "m=audio 4000 RTP/AVP 0 8", "a=rtcp:5001")
}

func TestOfferRejectsBadLocal(t *testing.T) {
	for name, l := range map[string]*Local{
		"no address": {Port: 4000},
		"no port":    {Address: netip.MustParseAddr("127.0.0.1")},
		"no codecs":  {Address: netip.MustParseAddr("127.0.0.1"), Port: 4000, Codecs: []Codec{}},
		"pt twice":   {Address: netip.MustParseAddr("127.0.0.1"), Port: 4000, Codecs: []Codec{PCMU, {PayloadType: 0, Name: "X", ClockRate: 8000}}},
		"te as voice": {Address: netip.MustParseAddr("127.0.0.1"), Port: 4000,
			Codecs: []Codec{TelephoneEvent}},
	} {
		if _, err := Offer(l); err == nil {
			t.Errorf("%s: Offer succeeded", name)
		}
	}
}

func TestOfferAnswerRoundTrip(t *testing.T) {
	a, b := local(4000), local(6000)
	a.Codecs = []Codec{PCMA, PCMU, Opus}
	b.Codecs = []Codec{Opus, PCMU}
	offer := mustOffer(t, a)
	answer, mb, err := Answer(b, offer)
	if err != nil {
		t.Fatalf("Answer: %v", err)
	}
	ma, err := ParseAnswer(a, answer)
	if err != nil {
		t.Fatalf("ParseAnswer: %v\n%s", err, answer)
	}
	// The answerer orders by its own preference.
	wantLines(t, answer, "m=audio 6000 RTP/AVP 111 0 101 110")
	if !mb.Send.Same(Opus) || !ma.Send.Same(Opus) || ma.Send.PayloadType != 111 {
		t.Errorf("send codecs %v / %v: want opus both ways", ma.Send, mb.Send)
	}
	if mb.SendDTMF.PayloadType != 110 || ma.SendDTMF.PayloadType != 110 {
		t.Errorf("DTMF %v / %v: want telephone-event/48000", ma.SendDTMF, mb.SendDTMF)
	}
	if ma.Remote != netip.MustParseAddrPort("127.0.0.1:6000") || ma.RemoteRTCP != netip.MustParseAddrPort("127.0.0.1:6001") {
		t.Errorf("offerer's remote %v / %v", ma.Remote, ma.RemoteRTCP)
	}
	if mb.Remote != netip.MustParseAddrPort("127.0.0.1:4000") {
		t.Errorf("answerer's remote %v", mb.Remote)
	}
	if ma.Direction != SendRecv || mb.Direction != SendRecv || ma.PTime != DefaultPTime {
		t.Errorf("direction %v / %v, ptime %v", ma.Direction, mb.Direction, ma.PTime)
	}
	if ma.RTCPMux || mb.RTCPMux || ma.Secure || mb.Secure {
		t.Errorf("mux %v/%v secure %v/%v: want neither", ma.RTCPMux, mb.RTCPMux, ma.Secure, mb.Secure)
	}
	for _, c := range []Codec{Opus, PCMU, TelephoneEvent, TelephoneEvent48} {
		if !slices.ContainsFunc(ma.Recv, c.Same) || !slices.ContainsFunc(mb.Recv, c.Same) {
			t.Errorf("%v not receivable: %v / %v", c, ma.Recv, mb.Recv)
		}
	}
	if slices.ContainsFunc(mb.Recv, PCMA.Same) {
		t.Errorf("answerer accepts PCMA it does not have: %v", mb.Recv)
	}
}

func TestAnswerKeepsOfferPayloadTypes(t *testing.T) {
	offer := []byte("v=0\r\no=peer 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n" +
		"m=audio 7000 RTP/AVP 96 8 97\r\na=rtpmap:96 OPUS/48000/2\r\na=rtpmap:97 telephone-event/8000\r\na=fmtp:97 0-15\r\na=ptime:40\r\n")
	l := local(4000)
	l.Codecs = []Codec{PCMU, PCMA, Opus}
	answer, m, err := Answer(l, offer)
	if err != nil {
		t.Fatal(err)
	}
	wantLines(t, answer, "m=audio 4000 RTP/AVP 8 96 97", "a=rtpmap:96 opus/48000/2", "a=rtpmap:97 telephone-event/8000")
	if m.Send.PayloadType != 8 || m.SendDTMF.PayloadType != 97 || m.PTime != 40*time.Millisecond {
		t.Errorf("media %+v", m)
	}
}

func TestAnswerNoCommonCodec(t *testing.T) {
	offer := []byte("v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n" +
		"m=audio 7000 RTP/AVP 18 9 101\r\na=rtpmap:101 telephone-event/8000\r\n")
	_, _, err := Answer(local(4000), offer)
	wantRefusal(t, err, ErrNoCommonCodec, WarnIncompatibleFormat)
	if !strings.Contains(err.Error(), "18") {
		t.Errorf("error %q does not name the offered formats", err)
	}
}

func TestAnswerRefusesMalformed(t *testing.T) {
	head := "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
	for name, body := range map[string]string{
		"empty":          "",
		"garbage":        "hello world",
		"bad port":       head + "m=audio 99999 RTP/AVP 0\r\n",
		"bad format":     head + "m=audio 7000 RTP/AVP zero\r\n",
		"format > 127":   head + "m=audio 7000 RTP/AVP 200\r\n",
		"format twice":   head + "m=audio 7000 RTP/AVP 0 0\r\n",
		"bad rtpmap":     head + "m=audio 7000 RTP/AVP 96\r\na=rtpmap:96 opus\r\n",
		"zero rate":      head + "m=audio 7000 RTP/AVP 96\r\na=rtpmap:96 opus/0\r\n",
		"bad ptime":      head + "m=audio 7000 RTP/AVP 0\r\na=ptime:x\r\n",
		"bad rtcp":       head + "m=audio 7000 RTP/AVP 0\r\na=rtcp:0\r\n",
		"hostname":       strings.Replace(head, "c=IN IP4 10.0.0.1", "c=IN IP4 pbx.example.com", 1) + "m=audio 7000 RTP/AVP 0\r\n",
		"no connection":  strings.Replace(head, "c=IN IP4 10.0.0.1\r\n", "", 1) + "m=audio 7000 RTP/AVP 0\r\n",
		"address family": strings.Replace(head, "c=IN IP4 10.0.0.1", "c=IN IP6 10.0.0.1", 1) + "m=audio 7000 RTP/AVP 0\r\n",
		"multicast":      strings.Replace(head, "c=IN IP4 10.0.0.1", "c=IN IP4 224.2.1.1/127", 1) + "m=audio 7000 RTP/AVP 0\r\n",
		"too big":        head + "m=audio 7000 RTP/AVP 0\r\n" + strings.Repeat("a=x:"+strings.Repeat("y", 100)+"\r\n", 700),
	} {
		_, _, err := Answer(local(4000), []byte(body))
		var na *NotAcceptableError
		if !errors.As(err, &na) || !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: error %v: want ErrMalformed", name, err)
		}
	}
}

func TestAnswerNoAudio(t *testing.T) {
	head := "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
	for name, body := range map[string]string{
		"no media":  head,
		"video":     head + "m=video 7000 RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\n",
		"port zero": head + "m=audio 0 RTP/AVP 0\r\n",
		"dtls":      head + "m=audio 7000 UDP/TLS/RTP/SAVPF 111\r\n",
	} {
		_, _, err := Answer(local(4000), []byte(body))
		t.Run(name, func(t *testing.T) { wantRefusal(t, err, ErrNoAudio, WarnMediaNotAvailable) })
	}
}

func TestAnswerRejectsOtherStreams(t *testing.T) {
	offer := []byte("v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n" +
		"m=video 7002 RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\n" +
		"m=audio 7000 RTP/AVP 0\r\n" +
		"m=audio 7004 RTP/AVP 8\r\n")
	answer, m, err := Answer(local(4000), offer)
	if err != nil {
		t.Fatal(err)
	}
	d, err := Parse(answer)
	if err != nil {
		t.Fatalf("our answer does not parse: %v\n%s", err, answer)
	}
	if d.Index != 1 || len(d.media) != 3 {
		t.Fatalf("answer has %d m= lines, audio at %d:\n%s", len(d.media), d.Index, answer)
	}
	wantLines(t, answer, "m=video 0 RTP/AVP 96", "m=audio 4000 RTP/AVP 0", "m=audio 0 RTP/AVP 8")
	if m.Remote.Port() != 7000 {
		t.Errorf("remote %v: want the first audio stream", m.Remote)
	}
}

func TestHoldDirections(t *testing.T) {
	cases := []struct {
		local, remote Direction
		want          Direction
	}{
		{SendRecv, SendRecv, SendRecv},
		{SendRecv, SendOnly, RecvOnly},
		{SendRecv, RecvOnly, SendOnly},
		{SendRecv, Inactive, Inactive},
		{SendOnly, SendRecv, SendOnly},
		{SendOnly, SendOnly, Inactive},
		{Inactive, SendRecv, Inactive},
		{RecvOnly, SendRecv, RecvOnly},
	}
	for _, c := range cases {
		a, b := local(4000), local(6000)
		a.Direction, b.Direction = c.remote, c.local
		answer, mb, err := Answer(b, mustOffer(t, a))
		if err != nil {
			t.Fatal(err)
		}
		if mb.Direction != c.want || !hasLine(answer, "a="+c.want.String()) {
			t.Errorf("local %v, offer %v: negotiated %v: want %v\n%s", c.local, c.remote, mb.Direction, c.want, answer)
		}
		ma, err := ParseAnswer(a, answer)
		if err != nil {
			t.Fatal(err)
		}
		if want := Negotiate(c.remote, c.want); ma.Direction != want {
			t.Errorf("offerer %v got %v: want %v", c.remote, ma.Direction, want)
		}
	}
}

func TestOldStyleHold(t *testing.T) {
	offer := []byte("v=0\r\no=- 1 2 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\nm=audio 7000 RTP/AVP 0\r\n")
	_, m, err := Answer(local(4000), offer)
	if err != nil {
		t.Fatal(err)
	}
	if m.Direction != RecvOnly {
		t.Errorf("c=0.0.0.0: direction %v: want recvonly", m.Direction)
	}
}

func TestRTCPMuxAndPort(t *testing.T) {
	a, b := local(4000), local(6000)
	a.RTCPMux, b.RTCPMux = true, true
	answer, mb, err := Answer(b, mustOffer(t, a))
	if err != nil {
		t.Fatal(err)
	}
	ma, err := ParseAnswer(a, answer)
	if err != nil {
		t.Fatal(err)
	}
	if !ma.RTCPMux || !mb.RTCPMux || ma.RemoteRTCP != ma.Remote || mb.RemoteRTCP != mb.Remote {
		t.Errorf("mux not negotiated: %+v / %+v", ma, mb)
	}

	// Only one side wants it: no mux, RTCP on the a=rtcp port.
	a, b = local(4000), local(6000)
	a.RTCPMux, a.RTCPPort = true, 4100
	b.RTCPPort = 6100
	answer, mb, err = Answer(b, mustOffer(t, a))
	if err != nil {
		t.Fatal(err)
	}
	ma, err = ParseAnswer(a, answer)
	if err != nil {
		t.Fatal(err)
	}
	if ma.RTCPMux || mb.RTCPMux || ma.RemoteRTCP.Port() != 6100 || mb.RemoteRTCP.Port() != 4001 {
		t.Errorf("rtcp: offerer %v mux %v, answerer %v mux %v", ma.RemoteRTCP, ma.RTCPMux, mb.RemoteRTCP, mb.RTCPMux)
	}
	d, err := Parse([]byte("v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 7000 RTP/AVP 0\r\na=rtcp:7100 IN IP4 10.0.0.2\r\n"))
	if err != nil || d.RTCP != netip.MustParseAddrPort("10.0.0.2:7100") {
		t.Errorf("a=rtcp with an address: %v, %v", d, err)
	}
}

func TestSRTP(t *testing.T) {
	a, b := local(4000), local(6000)
	a.SRTP = true
	offer := mustOffer(t, a)
	if !strings.Contains(string(offer), "m=audio 4000 RTP/SAVP") || !strings.Contains(string(offer), "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:") {
		t.Fatalf("SRTP offer:\n%s", offer)
	}
	answer, mb, err := Answer(b, offer)
	if err != nil {
		t.Fatal(err)
	}
	ma, err := ParseAnswer(a, answer)
	if err != nil {
		t.Fatal(err)
	}
	if !ma.Secure || !mb.Secure {
		t.Fatalf("not secure: %v / %v", ma.Secure, mb.Secure)
	}
	if !slices.Equal(ma.LocalCrypto.Key, mb.RemoteCrypto.Key) || !slices.Equal(ma.RemoteCrypto.Key, mb.LocalCrypto.Key) ||
		!slices.Equal(ma.LocalCrypto.Salt, mb.RemoteCrypto.Salt) || slices.Equal(ma.LocalCrypto.Key, ma.RemoteCrypto.Key) {
		t.Errorf("keys do not pair up: %+v / %+v", ma, mb)
	}

	// The key stays for the dialog: a re-offer (hold) keeps it.
	key := slices.Clone(a.Crypto.Key)
	a.Direction = SendOnly
	if reoffer := mustOffer(t, a); !slices.Equal(a.Crypto.Key, key) || !strings.Contains(string(reoffer), a.Crypto.Value()) {
		t.Errorf("re-offer changed the key")
	}

	// An answer that drops SRTP, or answers another tag, is refused.
	plain, _, err := Answer(local(6000), mustOffer(t, local(4000)))
	if err != nil {
		t.Fatal(err)
	}
	_, err = ParseAnswer(a, plain)
	wantRefusal(t, err, ErrSecurity, WarnIncompatibleProtocol)
	_, err = ParseAnswer(a, []byte(strings.Replace(string(answer), "a=crypto:1 ", "a=crypto:2 ", 1)))
	wantRefusal(t, err, ErrSecurity, WarnIncompatibleProtocol)
	// And a secure answer to a plain offer.
	_, err = ParseAnswer(local(4000), answer)
	wantRefusal(t, err, ErrSecurity, WarnIncompatibleProtocol)
}

func TestSRTPRefusals(t *testing.T) {
	head := "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
	// RTP/SAVP without a crypto line we can use.
	for _, crypto := range []string{"", "a=crypto:1 AES_256_CM_HMAC_SHA1_80 inline:AAAA\r\n", "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:short\r\n"} {
		_, _, err := Answer(local(4000), []byte(head+"m=audio 7000 RTP/SAVP 0\r\n"+crypto))
		wantRefusal(t, err, ErrSecurity, WarnIncompatibleProtocol)
	}
	// Plain RTP when we require SRTP.
	l := local(4000)
	l.SRTP = true
	_, _, err := Answer(l, []byte(head+"m=audio 7000 RTP/AVP 0\r\n"))
	wantRefusal(t, err, ErrSecurity, WarnIncompatibleProtocol)

	// The second crypto line is used when the first is not usable, with its tag.
	c, _ := NewCrypto(SuiteAES128SHA1_32)
	c.Tag = 7
	answer, m, err := Answer(local(4000), []byte(head+"m=audio 7000 RTP/SAVP 0\r\na=crypto:1 F8_128_HMAC_SHA1_80 inline:AAAA\r\na=crypto:"+c.Value()+"\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !m.Secure || m.LocalCrypto.Tag != 7 || m.LocalCrypto.Suite != SuiteAES128SHA1_32 || !strings.Contains(string(answer), "a=crypto:7 AES_CM_128_HMAC_SHA1_32 inline:") {
		t.Errorf("answer to the second crypto line: %+v\n%s", m, answer)
	}
}

func TestParseCrypto(t *testing.T) {
	good := "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR"
	c, err := ParseCrypto(good)
	if err != nil || c.Tag != 1 || len(c.Key) != 16 || len(c.Salt) != 14 || !c.Valid() {
		t.Fatalf("ParseCrypto(%q) = %+v, %v", good, c, err)
	}
	if c.Value() != good {
		t.Errorf("Value() = %q: want %q", c.Value(), good)
	}
	if c, err := ParseCrypto(good + "|2^20"); err != nil || !c.Valid() {
		t.Errorf("with a lifetime: %v", err)
	}
	for _, bad := range []string{
		"", "1", "x AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR",
		"1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:4",
		"1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR;inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR",
		"1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR UNENCRYPTED_SRTP",
		"1 AES_CM_128_HMAC_SHA1_80 uri:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR",
		"1 AES_CM_128_HMAC_SHA1_80 inline:!!!!",
		"1234567890 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR",
	} {
		if _, err := ParseCrypto(bad); err == nil {
			t.Errorf("ParseCrypto(%q) succeeded", bad)
		}
	}
}

func TestVersionRisesOnChange(t *testing.T) {
	l := local(4000)
	first := mustOffer(t, l)
	id, v := l.SessionID, l.Version
	if id == 0 || v != 1 {
		t.Fatalf("first SDP: session %d version %d", id, v)
	}
	if again := mustOffer(t, l); l.Version != v || string(again) != string(first) {
		t.Errorf("unchanged re-offer: version %d: want %d", l.Version, v)
	}
	l.Direction = SendOnly
	mustOffer(t, l)
	if l.Version != v+1 || l.SessionID != id {
		t.Errorf("changed re-offer: session %d version %d: want %d, %d", l.SessionID, l.Version, id, v+1)
	}
	// A restored Local (copied without the hidden state) cannot tell:
	// it raises the version, which is always allowed.
	r := Local{SessionID: l.SessionID, Version: l.Version, Address: l.Address, Port: l.Port, Direction: l.Direction}
	mustOffer(t, &r)
	if r.Version != l.Version+1 {
		t.Errorf("restored: version %d: want %d", r.Version, l.Version+1)
	}
	// An answer in the same dialog continues the same origin.
	a := local(6000)
	if _, _, err := Answer(&r, mustOffer(t, a)); err != nil {
		t.Fatal(err)
	}
	if r.SessionID != id {
		t.Errorf("answer changed the session id")
	}
}

func TestIPv6(t *testing.T) {
	a := &Local{Address: netip.MustParseAddr("::1"), Port: 4000}
	offer := mustOffer(t, a)
	wantLines(t, offer, "c=IN IP6 ::1")
	_, m, err := Answer(local(6000), offer)
	if err != nil {
		t.Fatal(err)
	}
	if m.Remote != netip.MustParseAddrPort("[::1]:4000") {
		t.Errorf("remote %v", m.Remote)
	}
}

// The bodies in testdata/peers are offers of real peers (SIPp, baresip, a
// PBX): each must be answered with G.711.
func TestAnswerRealPeers(t *testing.T) {
	files, err := filepath.Glob("testdata/peers/*.sdp")
	if err != nil || len(files) == 0 {
		t.Fatalf("no peer offers: %v", err)
	}
	for _, f := range files {
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		l := local(4000)
		l.Codecs = []Codec{PCMU, PCMA, Opus}
		_, m, err := Answer(l, body)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if m.Send.Name == "" || !m.HasDTMF() {
			t.Errorf("%s: send %v dtmf %v", f, m.Send, m.SendDTMF)
		}
	}
}
