package rtpstream

import (
	"log/slog"
	"math"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/tandem-softphone/tandem/media/sdp"
	"github.com/tandem-softphone/tandem/media/tone"
)

var (
	loopback = netip.MustParseAddr("127.0.0.1")
	quiet    = slog.New(slog.DiscardHandler)
)

// events collects a stream's events for polling.
type events struct {
	mu  sync.Mutex
	evs []Event
}

func (e *events) add(ev Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.evs = append(e.evs, ev)
}

func (e *events) of(kind EventKind) []Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Event
	for _, ev := range e.evs {
		if ev.Kind == kind {
			out = append(out, ev)
		}
	}
	return out
}

// eventually polls cond for up to 5 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// fastConfig is a stream configuration with short timers for tests.
func fastConfig(ev *events) Config {
	cfg := Config{LocalAddr: netip.AddrPortFrom(loopback, 0), RTCPInterval: 200 * time.Millisecond, Logger: quiet}
	if ev != nil {
		cfg.OnEvent = ev.add
	}
	return cfg
}

func openStream(t *testing.T, cfg Config) *Stream {
	t.Helper()
	s, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// negotiate runs an offer/answer between two locals and returns what each
// side negotiated.
func negotiate(t *testing.T, a, b *sdp.Local) (ma, mb sdp.Media) {
	t.Helper()
	offer, err := sdp.Offer(a)
	if err != nil {
		t.Fatalf("Offer: %v", err)
	}
	answer, mb, err := sdp.Answer(b, offer)
	if err != nil {
		t.Fatalf("Answer: %v", err)
	}
	ma, err = sdp.ParseAnswer(a, answer)
	if err != nil {
		t.Fatalf("ParseAnswer: %v", err)
	}
	return ma, mb
}

func localFor(s *Stream, codecs ...sdp.Codec) *sdp.Local {
	return &sdp.Local{Address: loopback, Port: int(s.LocalAddr().Port()), RTCPPort: int(s.LocalRTCPAddr().Port()), Codecs: codecs}
}

// pair opens and starts two streams that talk to each other.
func pair(t *testing.T, cfgA, cfgB Config, setup func(a, b *sdp.Local)) (a, b *Stream, ma, mb sdp.Media) {
	t.Helper()
	a, b = openStream(t, cfgA), openStream(t, cfgB)
	la, lb := localFor(a, sdp.PCMU, sdp.PCMA), localFor(b, sdp.PCMU, sdp.PCMA)
	if setup != nil {
		setup(la, lb)
	}
	ma, mb = negotiate(t, la, lb)
	if err := a.Start(ma); err != nil {
		t.Fatalf("Start A: %v", err)
	}
	if err := b.Start(mb); err != nil {
		t.Fatalf("Start B: %v", err)
	}
	return a, b, ma, mb
}

// talk writes src into s in real time, as a capture device would, and
// records what the peer plays out, as a playback device would, until src
// is used up. It goes by the wall clock, so that a busy machine delays it
// without losing audio.
func talk(s, peer *Stream, rate int, src []int16) []int16 {
	var heard []int16
	start := time.Now()
	for done := 0; done < len(src); {
		time.Sleep(10 * time.Millisecond)
		due := min(len(src), int(time.Since(start)*time.Duration(rate)/time.Second))
		s.Write(src[done:due])
		buf := make([]int16, due-done)
		peer.Read(buf)
		heard = append(heard, buf...)
		done = due
	}
	return heard
}

// heardWell reports whether the audio heard matches what was sent: some
// 100 ms window of sent audio, after the first 400 ms, is found in the
// heard audio at a delay below 400 ms with a correlation above 0.9. (A
// busy machine may break some windows; silence or noise match none.)
func heardWell(t *testing.T, name string, rate int, sent, heard []int16) {
	t.Helper()
	// 8 kHz is plenty for the test signal and keeps the search short.
	sent, heard = decimate(sent, rate/8000), decimate(heard, rate/8000)
	best := 0.0
	for from := 3200; best < 0.9 && from+800 <= len(sent) && from+800+3200 <= len(heard); from += 800 {
		best = math.Max(best, bestCorrelation(sent, heard, from, 800, 3200))
	}
	t.Logf("%s: correlation %.3f", name, best)
	if best < 0.9 {
		t.Errorf("%s: correlation of sent and heard audio %.3f: want > 0.9", name, best)
	}
}

func decimate(pcm []int16, k int) []int16 {
	if k <= 1 {
		return pcm
	}
	out := make([]int16, 0, len(pcm)/k)
	for i := 0; i < len(pcm); i += k {
		out = append(out, pcm[i])
	}
	return out
}

// testSignal is a dual tone whose level swells and fades, so that a
// delayed copy correlates only at the right lag within a few periods.
func testSignal(t *testing.T, rate int, d time.Duration) []int16 {
	t.Helper()
	pcm, err := tone.Generate(rate, tone.Spec{Freqs: []float64{440, 1070}, Level: 0.6}, d)
	if err != nil {
		t.Fatal(err)
	}
	for i := range pcm {
		env := 0.55 + 0.45*math.Sin(2*math.Pi*3*float64(i)/float64(rate))
		pcm[i] = int16(float64(pcm[i]) * env)
	}
	return pcm
}

// bestCorrelation is the highest normalised correlation between a window
// of sent audio and the received audio at any lag up to maxLag samples.
func bestCorrelation(sent, heard []int16, from, n, maxLag int) float64 {
	best := 0.0
	w := sent[from : from+n]
	for lag := 0; lag <= maxLag && from+lag+n <= len(heard); lag++ {
		h := heard[from+lag : from+lag+n]
		var sw, sh, swh float64
		for i := range w {
			x, y := float64(w[i]), float64(h[i])
			sw += x * x
			sh += y * y
			swh += x * y
		}
		if sw == 0 || sh == 0 {
			continue
		}
		best = math.Max(best, swh/math.Sqrt(sw*sh))
	}
	return best
}

func energy(pcm []int16) float64 {
	var e float64
	for _, s := range pcm {
		e += float64(s) * float64(s)
	}
	if len(pcm) == 0 {
		return 0
	}
	return math.Sqrt(e / float64(len(pcm)))
}
