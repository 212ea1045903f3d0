package sipcall

import (
	"errors"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/tandem-softphone/tandem/internal/testutil"
	"github.com/tandem-softphone/tandem/media/sdp"
	"github.com/tandem-softphone/tandem/media/tone"
	"github.com/tandem-softphone/tandem/media/wav"
)

func TestMain(m *testing.M) {
	// sipgo logs through the default logger.
	if os.Getenv("SIPCALL_TEST_LOG") == "" {
		slog.SetDefault(testutil.Quiet())
	}
	os.Exit(m.Run())
}

func newUA(t *testing.T, edit func(*Options)) *UA {
	t.Helper()
	o := Options{Logger: testutil.Quiet()}
	if edit != nil {
		edit(&o)
	}
	u, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { u.Close() })
	return u
}

// melody is test audio that matches itself only in place: 80 ms notes of
// random pitch, as a WAV file of rate.
func melody(t *testing.T, rate int, d time.Duration) (string, []int16) {
	t.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	var pcm []int16
	for len(pcm) < int(d*time.Duration(rate)/time.Second) {
		note, err := tone.Generate(rate, tone.Spec{Freqs: []float64{300 + 2500*r.Float64()}, Level: 0.4}, 80*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		pcm = append(pcm, note...)
	}
	name := filepath.Join(t.TempDir(), "melody.wav")
	if err := wav.WriteFile(name, rate, pcm); err != nil {
		t.Fatal(err)
	}
	return name, pcm
}

// waitState waits for a call to reach a state and returns it.
func waitState(t *testing.T, u *UA, id string, s State) Info {
	t.Helper()
	var info Info
	testutil.Eventually(t, "call "+id+" "+string(s), func() bool {
		info, _ = u.Call(id)
		return info.State == s
	})
	return info
}

// only returns the one call a UA has.
func only(t *testing.T, u *UA) Info {
	t.Helper()
	calls := u.Calls()
	if len(calls) != 1 {
		t.Fatalf("%d calls, want 1: %+v", len(calls), calls)
	}
	return calls[0]
}

func readRecording(t *testing.T, name string) []int16 {
	t.Helper()
	rate, pcm, err := wav.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if rate != sampleRate {
		t.Fatalf("recording at %d Hz", rate)
	}
	return pcm
}

// retryAudio runs a call whose audio is checked up to three times, until
// attempt's correlation passes 0.8: other tests of the run can starve
// real-time media for a while, where a broken audio path fails every time.
func retryAudio(t *testing.T, what string, attempt func() float64) {
	t.Helper()
	var got []float64
	for range 3 {
		c := attempt()
		if c >= 0.8 {
			return
		}
		got = append(got, c)
		t.Logf("%s: correlation %.2f, once more", what, c)
	}
	t.Fatalf("%s: what was heard correlates %.2f with what was played, want > 0.8", what, got)
}

// NumberEcho sends back what it hears: what the caller recorded is what it
// played, a little later.
func TestEchoNumber(t *testing.T) {
	// Not parallel: audio checks want a machine that is not overloaded.
	caller, numbers := newUA(t, nil), newUA(t, nil)
	audio, pcm := melody(t, 16000, time.Second) // resampled to 8 kHz on the way in
	retryAudio(t, "the echo", func() float64 {
		rec := filepath.Join(t.TempDir(), "heard.wav")
		info, err := caller.Dial(DialOptions{To: NumberEcho, Server: numbers.Addr().String(), Audio: audio, Record: rec, Duration: 1500 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if info.State != StateCalling || info.Direction != DirectionOutbound || info.Audio != audio || info.Record != rec {
			t.Fatalf("dialled %+v", info)
		}
		end := waitState(t, caller, info.ID, StateEnded)
		if end.Reason != "duration" || end.Status != sip.StatusOK || end.Codec != "PCMU" || end.PacketsReceived == 0 || end.Answered.IsZero() {
			t.Fatalf("caller's call %+v", end)
		}
		calls := numbers.Calls()
		far := calls[len(calls)-1]
		testutil.Eventually(t, "echo call ended", func() bool { far, _ = numbers.Call(far.ID); return far.State == StateEnded })
		if far.Direction != DirectionInbound || far.To != NumberEcho || far.From != "customer" || far.Reason != "remote hangup" || far.Audio != "echo" {
			t.Fatalf("echo's call %+v", far)
		}
		// From 0.25 s to 0.75 s of what was played, where the recording
		// has it whatever the start-up.
		return Similarity(pcm8k(pcm, 16000)[2000:6000], readRecording(t, rec)[2000:], 4000)
	})
}

func pcm8k(pcm []int16, rate int) []int16 {
	out := make([]int16, len(pcm)*sampleRate/rate)
	for i := range out {
		out[i] = pcm[i*rate/sampleRate]
	}
	return out
}

// NumberTone answers and plays its tone; the caller, without audio, plays
// its own.
func TestToneNumber(t *testing.T) {
	// Not parallel: audio checks want a machine that is not overloaded.
	caller := newUA(t, nil)
	numbers := newUA(t, func(o *Options) { o.Tone = tone.Spec{Freqs: []float64{697, 1209}, Level: 0.3} })
	ref, err := tone.Generate(sampleRate, tone.Spec{Freqs: []float64{697, 1209}, Level: 0.3}, 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	own, _ := tone.Generate(sampleRate, DefaultTone, 200*time.Millisecond)
	retryAudio(t, "the tone", func() float64 {
		rec := filepath.Join(t.TempDir(), "tone.wav")
		info, err := caller.Dial(DialOptions{To: NumberTone, Server: numbers.Addr().String(), Record: rec, Duration: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if info.Audio != "tone" {
			t.Fatalf("audio %q", info.Audio)
		}
		waitState(t, caller, info.ID, StateEnded)
		got := readRecording(t, rec)
		got = got[len(got)/2:] // once both sides run
		// Not the caller's own tone.
		if corr := Similarity(own, got, 1600); corr > 0.5 {
			t.Fatalf("recording correlates %.2f with the caller's tone", corr)
		}
		return Similarity(ref, got, 1600)
	})
}

// NumberBusy is always busy; an unknown number is not found.
func TestBusyAndUnknownNumbers(t *testing.T) {
	t.Parallel()
	caller, numbers := newUA(t, nil), newUA(t, func(o *Options) { o.KeepEnded = 2 })
	for _, c := range []struct {
		to     string
		status int
	}{{NumberBusy, sip.StatusBusyHere}, {"1234", sip.StatusNotFound}, {NumberBusy, sip.StatusBusyHere}, {NumberBusy, sip.StatusBusyHere}} {
		info, err := caller.Dial(DialOptions{To: c.to, Server: numbers.Addr().String()})
		if err != nil {
			t.Fatal(err)
		}
		if end := waitState(t, caller, info.ID, StateEnded); end.Status != c.status || !end.Answered.IsZero() {
			t.Fatalf("call to %s: %+v", c.to, end)
		}
	}
	// Three busy calls were answered there; KeepEnded 2 lists the last two.
	calls := numbers.Calls()
	if len(calls) != 2 || calls[0].ID != "c2" || calls[1].ID != "c3" {
		t.Fatalf("the numbers' calls %+v", calls)
	}
	for _, c := range calls {
		if c.State != StateEnded || c.Status != sip.StatusBusyHere || c.Reason != "busy" || c.To != NumberBusy {
			t.Fatalf("busy call %+v", c)
		}
	}
	if len(caller.Calls()) != 4 {
		t.Fatalf("caller lists %d calls, want 4", len(caller.Calls()))
	}
}

// Hangup ends a connected call with a BYE; the far end sees it; a second
// Hangup is refused, as is an unknown call.
func TestHangup(t *testing.T) {
	t.Parallel()
	caller, numbers := newUA(t, nil), newUA(t, nil)
	info, err := caller.Dial(DialOptions{To: NumberTone, Server: numbers.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	waitState(t, caller, info.ID, StateConnected)
	far := only(t, numbers)
	waitState(t, numbers, far.ID, StateConnected)
	if err := caller.Hangup(info.ID); err != nil {
		t.Fatal(err)
	}
	if end := waitState(t, caller, info.ID, StateEnded); end.Reason != "hangup" {
		t.Fatalf("hung up call %+v", end)
	}
	if end := waitState(t, numbers, far.ID, StateEnded); end.Reason != "remote hangup" {
		t.Fatalf("far end %+v", end)
	}
	if err := caller.Hangup(info.ID); !errors.Is(err, ErrEnded) {
		t.Fatalf("second hangup: %v", err)
	}
	if err := caller.Hangup("c99"); !errors.Is(err, ErrUnknownCall) {
		t.Fatalf("hangup of no call: %v", err)
	}
	if _, ok := caller.Call("c99"); ok {
		t.Fatal("Call found c99")
	}

	// The numbers' side hangs up too: on Close.
	info, err = caller.Dial(DialOptions{To: NumberEcho, Server: numbers.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	waitState(t, caller, info.ID, StateConnected)
	numbers.Close()
	if end := waitState(t, caller, info.ID, StateEnded); end.Reason != "remote hangup" {
		t.Fatalf("call to a closed UA %+v", end)
	}
	if _, err := numbers.Dial(DialOptions{To: "9000", Server: caller.Addr().String()}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Dial after Close: %v", err)
	}
}

// peer is a plain sipgo endpoint that answers calls with its own SDP and
// can renegotiate, as an agent's phone does on hold.
type peer struct {
	mu       sync.Mutex
	current  *sipgo.DialogServerSession // the call being answered
	dialog   *sipgo.DialogUA
	local    sdp.Local
	sessions chan *sipgo.DialogServerSession
	ring     bool // ring without answering
}

func newPeer(t *testing.T, ring bool) (*peer, string) {
	t.Helper()
	ua, err := sipgo.NewUA()
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := sipgo.NewServer(ua)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	client, _ := sipgo.NewClient(ua, sipgo.WithClientAddr(addr), sipgo.WithClientConnectionAddr(addr))
	contact := sip.Uri{Scheme: "sip", User: "peer", Host: "127.0.0.1", Port: pc.LocalAddr().(*net.UDPAddr).Port}
	p := &peer{
		dialog: &sipgo.DialogUA{Client: client, ContactHDR: sip.ContactHeader{Address: contact}},
		// Media goes nowhere: the test is about the signalling.
		local:    sdp.Local{Address: netip.MustParseAddr("127.0.0.1"), Port: 9, Codecs: []sdp.Codec{sdp.PCMA}},
		sessions: make(chan *sipgo.DialogServerSession, 4),
		ring:     ring,
	}
	srv.OnInvite(func(req *sip.Request, tx sip.ServerTransaction) {
		s, err := p.dialog.ReadInvite(req, tx)
		if err != nil {
			return
		}
		if p.ring {
			s.Respond(sip.StatusRinging, "Ringing", nil)
			p.sessions <- nil
			<-s.Context().Done()
			return
		}
		p.mu.Lock()
		p.current = s
		p.mu.Unlock()
		answer, _, err := sdp.Answer(&p.local, req.Body())
		if err != nil {
			s.Respond(sip.StatusNotAcceptableHere, "Not Acceptable Here", nil)
			return
		}
		if s.RespondSDP(answer) == nil {
			p.sessions <- s
		}
	})
	srv.OnAck(func(req *sip.Request, tx sip.ServerTransaction) {
		p.mu.Lock()
		s := p.current
		p.mu.Unlock()
		if s != nil {
			s.ReadAck(req, tx)
		}
	})
	done := make(chan struct{})
	go func() { defer close(done); srv.ServeUDP(pc) }()
	t.Cleanup(func() { ua.Close(); pc.Close(); <-done })
	testutil.Eventually(t, "peer serving", func() bool {
		c, err := ua.TransportLayer().GetConnection("udp", addr)
		if err == nil {
			c.TryClose()
		}
		return err == nil
	})
	return p, addr
}

// A re-INVITE from the far end renegotiates: with an offer (hold:
// sendonly) the answer says recvonly; without one, the 2xx carries our
// offer and the ACK the answer. Hanging up while the far end rings cancels.
func TestReInviteAndCancel(t *testing.T) {
	t.Parallel()
	caller := newUA(t, nil)
	p, addr := newPeer(t, false)
	info, err := caller.Dial(DialOptions{To: "5001", Server: addr})
	if err != nil {
		t.Fatal(err)
	}
	s := <-p.sessions
	if end := waitState(t, caller, info.ID, StateConnected); end.Codec != "PCMA" {
		t.Fatalf("connected %+v", end)
	}
	p.local.Direction = sdp.SendOnly
	offer, err := sdp.Offer(&p.local)
	if err != nil {
		t.Fatal(err)
	}
	reinvite := sip.NewRequest(sip.INVITE, s.InviteRequest.Contact().Address)
	reinvite.SetBody(offer)
	reinvite.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	res, err := s.Do(testutil.Context(t), reinvite)
	if err != nil || res.StatusCode != sip.StatusOK {
		t.Fatalf("hold re-INVITE: %v %v", res, err)
	}
	d, err := sdp.Parse(res.Body())
	if err != nil || d.Direction != sdp.RecvOnly {
		t.Fatalf("answer to hold: %+v %v", d, err)
	}

	res, err = s.Do(testutil.Context(t), sip.NewRequest(sip.INVITE, s.InviteRequest.Contact().Address))
	if err != nil || res.StatusCode != sip.StatusOK {
		t.Fatalf("offerless re-INVITE: %v %v", res, err)
	}
	p.local.Direction = sdp.SendRecv
	answer, _, err := sdp.Answer(&p.local, res.Body())
	if err != nil {
		t.Fatalf("the 2xx's offer: %v", err)
	}
	ack := sip.NewRequest(sip.ACK, s.InviteRequest.Contact().Address)
	ack.SetBody(answer)
	ack.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	if err := s.WriteRequest(ack); err != nil {
		t.Fatal(err)
	}
	if err := caller.Hangup(info.ID); err != nil {
		t.Fatal(err)
	}
	waitState(t, caller, info.ID, StateEnded)

	ringer, raddr := newPeer(t, true)
	info, err = caller.Dial(DialOptions{To: "5002", Server: raddr})
	if err != nil {
		t.Fatal(err)
	}
	<-ringer.sessions
	waitState(t, caller, info.ID, StateRinging)
	if err := caller.Hangup(info.ID); err != nil {
		t.Fatal(err)
	}
	if end := waitState(t, caller, info.ID, StateEnded); end.Reason != "cancelled" || end.Status != sip.StatusRequestTerminated {
		t.Fatalf("cancelled call %+v", end)
	}
}

func TestDialChecks(t *testing.T) {
	t.Parallel()
	u := newUA(t, nil)
	dir := t.TempDir()
	notWAV := filepath.Join(dir, "not.wav")
	os.WriteFile(notWAV, []byte("hello"), 0o600)
	for name, o := range map[string]DialOptions{
		"no number":        {Server: "127.0.0.1:5060"},
		"bad number":       {To: "50 01", Server: "127.0.0.1:5060"},
		"no server":        {To: "5001"},
		"bad port":         {To: "5001", Server: "127.0.0.1:99999"},
		"negative":         {To: "5001", Server: "127.0.0.1:5060", Duration: -time.Second},
		"missing audio":    {To: "5001", Server: "127.0.0.1:5060", Audio: filepath.Join(dir, "none.wav")},
		"audio not WAV":    {To: "5001", Server: "127.0.0.1:5060", Audio: notWAV},
		"record elsewhere": {To: "5001", Server: "127.0.0.1:5060", Record: filepath.Join(dir, "no", "such", "dir.wav")},
	} {
		if _, err := u.Dial(o); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := New(Options{Tone: tone.Spec{Freqs: []float64{440}, Level: 2}}); err == nil {
		t.Error("New with a bad tone succeeded")
	}
	if _, err := New(Options{Addr: "nope"}); err == nil {
		t.Error("New with a bad address succeeded")
	}
	if IsTestNumber("5001") || !IsTestNumber(NumberEcho) || !IsTestNumber(NumberTone) || !IsTestNumber(NumberBusy) {
		t.Error("IsTestNumber")
	}
}

func TestSimilarity(t *testing.T) {
	_, pcm := melody(t, sampleRate, 500*time.Millisecond)
	ref := pcm[:3200]
	late := append(make([]int16, 777), pcm...)
	if c := Similarity(ref, late, 1000); math.Abs(c-1) > 1e-9 {
		t.Fatalf("itself, later: %.3f", c)
	}
	// Quieter, and with a slip: 40 samples lost in the second piece.
	slipped := make([]int16, 0, len(late))
	for i, v := range late {
		if i < 1700 || i >= 1740 {
			slipped = append(slipped, v/3)
		}
	}
	if c := Similarity(ref, slipped, 1000); c < 0.99 {
		t.Fatalf("quieter, slipped: %.3f", c)
	}
	r := rand.New(rand.NewPCG(3, 4))
	noise := make([]int16, len(pcm))
	for i := range noise {
		noise[i] = int16(r.IntN(20000) - 10000)
	}
	if c := Similarity(ref, noise, 1000); c > 0.3 {
		t.Fatalf("noise: %.3f", c)
	}
	// Noise matches only itself, and only within the lag looked at,
	// earlier or later.
	lateNoise := append(make([]int16, 777), noise...)
	if c := Similarity(noise[:3200], lateNoise, 1000); math.Abs(c-1) > 1e-9 {
		t.Fatalf("noise, later: %.3f", c)
	}
	if c := Similarity(noise[:3200], lateNoise, 500); c > 0.3 {
		t.Fatalf("noise later than the lag looked at: %.3f", c)
	}
	if c := Similarity(noise[1000:4200], noise[300:], 800); math.Abs(c-1) > 1e-9 {
		t.Fatalf("noise, earlier: %.3f", c)
	}
	if c := Similarity(ref, ref[:10], 10); c != 0 {
		t.Fatalf("too short: %.3f", c)
	}
	if c := Similarity(ref, make([]int16, 5000), 1000); c != 0 {
		t.Fatalf("silence: %.3f", c)
	}
}

// A customer of the UA may call the UA's own test numbers: both sides of
// the call live in one UA.
func TestCallsItself(t *testing.T) {
	// Not parallel: audio checks want a machine that is not overloaded.
	u := newUA(t, nil)
	audio, pcm := melody(t, 8000, time.Second)
	retryAudio(t, "the echo", func() float64 {
		rec := filepath.Join(t.TempDir(), "heard.wav")
		info, err := u.Dial(DialOptions{To: NumberEcho, Server: u.Addr().String(), Audio: audio, Record: rec, Duration: 1200 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if end := waitState(t, u, info.ID, StateEnded); end.Reason != "duration" {
			t.Fatalf("call %+v", end)
		}
		return Similarity(pcm[2000:6000], readRecording(t, rec)[2000:], 4000)
	})
	testutil.Eventually(t, "the echo's side ended", func() bool {
		calls := u.Calls()
		last := calls[len(calls)-1]
		return last.Direction == DirectionInbound && last.State == StateEnded && last.Reason == "remote hangup"
	})
}
