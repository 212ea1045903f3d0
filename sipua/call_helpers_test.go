package sipua

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/tandem-softphone/tandem/audio"
	"github.com/tandem-softphone/tandem/media/wav"
)

// phone is an endpoint in a call test, with what it was told.
type phone struct {
	t    testing.TB
	ep   *Endpoint
	user string
	site string

	// The WAV backend's files: what the phone says, what it heard.
	mic, speaker string
	said         []int16

	mu     sync.Mutex
	calls  []CallEvent
	dtmf   []DTMFEvent
	media  []MediaEvent
	seenIn map[string]bool // incoming calls already handed out
}

// phoneOptions tune newPhone.
type phoneOptions struct {
	said  []int16 // the microphone's audio; nil: no audio backend
	edit  func(*Options)
	accts []Account // default: one account at the site, direct calls
}

// newPhone starts an endpoint for user registered at s, whose calls go
// straight to the called contact (the sitesim registrar does not route
// calls).
func newPhone(t testing.TB, s *site, user string, po phoneOptions) *phone {
	t.Helper()
	p := &phone{t: t, user: user, site: "site1", seenIn: map[string]bool{}}
	accts := po.accts
	if accts == nil {
		a := s.account("site1", TransportUDP, user)
		a.DirectCalls = true
		accts = []Account{a}
	}
	opts := fastOptions(accts...)
	opts.OnEvent = p.record
	if po.said != nil {
		dir := t.TempDir()
		p.mic, p.speaker, p.said = filepath.Join(dir, "mic.wav"), filepath.Join(dir, "speaker.wav"), po.said
		if err := wav.WriteFile(p.mic, callSampleRate, po.said); err != nil {
			t.Fatal(err)
		}
		opts.Audio = audio.NewWAV(audio.WAVOptions{Mic: p.mic, Speaker: p.speaker, Logger: testLogger()})
	}
	if po.edit != nil {
		po.edit(&opts)
	}
	p.ep, _ = startEndpoint(t, opts)
	for _, a := range accts {
		waitState(t, p.ep, a.Site, RegistrationRegistered, 5*time.Second)
	}
	return p
}

func (p *phone) record(ev Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch ev := ev.(type) {
	case CallEvent:
		p.calls = append(p.calls, ev)
	case DTMFEvent:
		p.dtmf = append(p.dtmf, ev)
	case MediaEvent:
		p.media = append(p.media, ev)
	}
}

// uri is the phone's contact: where a direct call reaches it.
func (p *phone) uri() string {
	return fmt.Sprintf("sip:%s@%s", p.user, p.ep.Addr(TransportUDP))
}

// dial calls target and fails the test on an error.
func (p *phone) dial(target string) *Call {
	p.t.Helper()
	c, err := p.ep.Dial(target, DialOptions{})
	if err != nil {
		p.t.Fatalf("%s: Dial %s: %v", p.user, target, err)
	}
	return c
}

// incoming waits for a new call ringing at the phone.
func (p *phone) incoming() *Call {
	p.t.Helper()
	var found *Call
	eventually(p.t, p.user+": an incoming call rings", func() bool {
		for _, c := range p.ep.Calls() {
			p.mu.Lock()
			seen := p.seenIn[c.ID()]
			p.mu.Unlock()
			if info := c.Info(); !seen && info.Direction == Incoming && info.State == CallRinging {
				p.mu.Lock()
				p.seenIn[c.ID()] = true
				p.mu.Unlock()
				found = c
				return true
			}
		}
		return false
	})
	return found
}

// newCall waits for a call of the phone that is not among known.
func (p *phone) newCall(known ...*Call) *Call {
	p.t.Helper()
	var found *Call
	eventually(p.t, p.user+": a new call", func() bool {
		for _, c := range p.ep.Calls() {
			if !slices.Contains(known, c) {
				found = c
				return true
			}
		}
		return false
	})
	return found
}

// states are the states reported for call id, in order, without repeats.
func (p *phone) states(id string) []CallState {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []CallState
	for _, ev := range p.calls {
		if ev.ID == id && (len(out) == 0 || out[len(out)-1] != ev.State) {
			out = append(out, ev.State)
		}
	}
	return out
}

// digits are the DTMF digits the phone received, in order.
func (p *phone) digits() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var s []rune
	for _, ev := range p.dtmf {
		s = append(s, ev.Digit)
	}
	return string(s)
}

// waitCall polls c until cond holds, up to 5 s.
func waitCall(t testing.TB, c *Call, what string, cond func(CallInfo) bool) CallInfo {
	t.Helper()
	var info CallInfo
	deadline := time.Now().Add(5 * time.Second)
	for {
		info = c.Info()
		if cond(info) {
			return info
		}
		if time.Now().After(deadline) {
			t.Fatalf("call %s: %s: not within 5 s; now %v (%v %d %q)", c.ID(), what, info.State, info.EndReason, info.Code, info.Reason)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitCallState waits for c to reach state.
func waitCallState(t testing.TB, c *Call, state CallState) CallInfo {
	t.Helper()
	return waitCall(t, c, "state "+state.String(), func(i CallInfo) bool { return i.State == state })
}

// waitEnded waits for c to end with reason.
func waitEnded(t testing.TB, c *Call, reason EndReason) CallInfo {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatalf("call %s did not end within 5 s: %v", c.ID(), c.Info().State)
	}
	info := c.Info()
	if info.State != CallEnded || info.EndReason != reason {
		t.Fatalf("call %s ended %v (%d %q), want %v", c.ID(), info.EndReason, info.Code, info.Reason, reason)
	}
	return info
}

// connect has a call a to b, answered by b; it returns both ends.
func connect(t testing.TB, a, b *phone) (*Call, *Call) {
	t.Helper()
	ca := a.dial(b.uri())
	cb := b.incoming()
	if err := cb.Answer(); err != nil {
		t.Fatalf("Answer: %v", err)
	}
	waitCallState(t, ca, CallConnected)
	waitCallState(t, cb, CallConnected)
	return ca, cb
}

// packetsIn is how many RTP packets c has received.
func packetsIn(c *Call) uint64 { return c.Info().Media.Stats.PacketsReceived }

// chirp is a sweep from f0 to f1 Hz over d at half scale: a test signal
// that correlates with a delayed copy of itself at one lag only.
func chirp(f0, f1 float64, d time.Duration) []int16 {
	n := int(d.Seconds() * callSampleRate)
	T := d.Seconds()
	out := make([]int16, n)
	for i := range out {
		t := float64(i) / callSampleRate
		phase := 2 * math.Pi * (f0*t + (f1-f0)*t*t/(2*T))
		out[i] = int16(0.5 * math.MaxInt16 * math.Sin(phase))
	}
	return out
}

// correlation measures how well the sent audio arrived: the median, over
// windows of 0.25 s across the sent audio, of each window's best
// normalised correlation with the heard audio at any position. Windows
// rather than one long span, because a device period that comes late
// shifts the rest of the audio by a frame.
func correlation(sent, heard []int16) float64 {
	n := callSampleRate / 4
	var rs []float64
	for from := n; from+n <= len(sent)-n/2; from += n / 2 {
		rs = append(rs, correlationWin(sent[from:from+n], heard))
	}
	if len(rs) == 0 {
		return 0
	}
	slices.Sort(rs)
	return rs[len(rs)/2]
}

// correlationWin is the best normalised correlation of w with heard at
// any position.
func correlationWin(w, heard []int16) float64 {
	n := len(w)
	if len(heard) < n {
		return 0
	}
	var sw float64
	for _, x := range w {
		sw += float64(x) * float64(x)
	}
	// A running energy of the heard window.
	var sh float64
	for _, y := range heard[:n] {
		sh += float64(y) * float64(y)
	}
	best := 0.0
	for pos := 0; pos+n <= len(heard); pos++ {
		if pos > 0 {
			out, in := float64(heard[pos-1]), float64(heard[pos+n-1])
			sh += in*in - out*out
		}
		if sh <= 1 || sw == 0 {
			continue
		}
		var swh float64
		h := heard[pos : pos+n]
		for i, x := range w {
			swh += float64(x) * float64(h[i])
		}
		best = max(best, swh/math.Sqrt(sw*sh))
	}
	return best
}

// heard reads what the phone's speaker recorded.
func (p *phone) heard() []int16 {
	p.t.Helper()
	rate, pcm, err := wav.ReadFile(p.speaker)
	if err != nil {
		p.t.Fatal(err)
	}
	if rate != callSampleRate {
		p.t.Fatalf("recording at %d Hz", rate)
	}
	return pcm
}

// rawClient is a bare sipgo client for hand-made requests.
func rawClient(t testing.TB) *sipgo.Client {
	t.Helper()
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("raw"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ua.Close() })
	client, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	return client
}

// rawInvite sends an INVITE with body (of content type ct) to the phone
// and returns the final answer: for bodies the phone refuses at once.
func rawInvite(t testing.TB, client *sipgo.Client, p *phone, ct string, body []byte, extra ...sip.Header) *sip.Response {
	t.Helper()
	req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: p.user, Host: "127.0.0.1"})
	req.SetDestination(p.ep.Addr(TransportUDP).String())
	req.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "raw", Host: "127.0.0.1", Port: 5999}})
	for _, h := range extra {
		req.AppendHeader(h)
	}
	if body != nil {
		req.AppendHeader(sip.NewHeader("Content-Type", ct))
		req.SetBody(body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := client.Do(ctx, req)
	if err != nil {
		t.Fatalf("INVITE: %v", err)
	}
	return res
}

// freeUDPPort is a loopback UDP port free at the time of asking.
func freeUDPPort(t testing.TB) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// sendInDialog sends a request into c's dialog as if from its peer (the
// next CSeq after the peer's last) and returns the final answer.
func sendInDialog(t testing.TB, client *sipgo.Client, c *Call, method, ct string, body []byte, extra ...sip.Header) *sip.Response {
	t.Helper()
	c.mu.Lock()
	cseq := c.dlg.RemoteCSeq + 1
	c.mu.Unlock()
	return sendInDialogCSeq(t, client, c, method, cseq, ct, body, extra...)
}

// sendInDialogCSeq is sendInDialog with the given CSeq.
func sendInDialogCSeq(t testing.TB, client *sipgo.Client, c *Call, method string, cseq uint32, ct string, body []byte, extra ...sip.Header) *sip.Response {
	t.Helper()
	c.mu.Lock()
	d := c.dlg
	c.mu.Unlock()
	target, err := parseURI(d.LocalContact)
	if err != nil {
		t.Fatal(err)
	}
	req := sip.NewRequest(sip.RequestMethod(method), target)
	req.SetDestination(c.ep.Addr(TransportUDP).String())
	local, _ := parseURI(d.LocalURI)
	remote, _ := parseURI(d.RemoteURI)
	from := &sip.FromHeader{Address: remote, Params: sip.NewParams()}
	from.Params.Add("tag", d.RemoteTag)
	to := &sip.ToHeader{Address: local, Params: sip.NewParams()}
	to.Params.Add("tag", d.LocalTag)
	id := sip.CallIDHeader(d.CallID)
	req.AppendHeader(from)
	req.AppendHeader(to)
	req.AppendHeader(&id)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: cseq, MethodName: sip.RequestMethod(method)})
	for _, h := range extra {
		req.AppendHeader(h)
	}
	if body != nil {
		req.AppendHeader(sip.NewHeader("Content-Type", ct))
		req.SetBody(body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := client.Do(ctx, req)
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	return res
}

// rtpSink is a UDP socket that counts what arrives: a peer's media port.
type rtpSink struct {
	addr netip.AddrPort
	mu   sync.Mutex
	n    int
}

func newRTPSink(t testing.TB) *rtpSink {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	s := &rtpSink{addr: conn.LocalAddr().(*net.UDPAddr).AddrPort()}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			if _, _, err := conn.ReadFrom(buf); err != nil {
				return
			}
			s.mu.Lock()
			s.n++
			s.mu.Unlock()
		}
	}()
	t.Cleanup(func() { conn.Close(); <-done })
	return s
}

func (s *rtpSink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

// udpFree reports whether a loopback UDP port can be bound now.
func udpFree(port int) bool {
	c, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// startUAS runs a bare sipgo UAS on loopback UDP whose INVITEs onInvite
// answers; ACK and BYE are taken care of. It returns its address.
func startUAS(t testing.TB, onInvite func(*sip.Request, sip.ServerTransaction)) string {
	t.Helper()
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("uas"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sipgo.NewServer(ua)
	if err != nil {
		t.Fatal(err)
	}
	srv.OnInvite(onInvite)
	srv.OnAck(func(*sip.Request, sip.ServerTransaction) {})
	srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	})
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { srv.ServeUDP(conn); close(done) }()
	t.Cleanup(func() { ua.Close(); conn.Close(); <-done })
	return conn.LocalAddr().String()
}
