//go:build cgo && !noopus

package rtpstream

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/tandem-softphone/tandem/media/sdp"
)

func TestOpusRoundTrip(t *testing.T) {
	for _, rate := range []int{48000, 16000} {
		t.Run(fmt.Sprint(rate), func(t *testing.T) {
			cfg := fastConfig(nil)
			cfg.SampleRate = rate
			a, b, ma, mb := pair(t, cfg, cfg, func(a, b *sdp.Local) {
				a.Codecs, b.Codecs = []sdp.Codec{sdp.Opus, sdp.PCMU}, []sdp.Codec{sdp.Opus, sdp.PCMU}
			})
			if !ma.Send.Same(sdp.Opus) || !mb.Send.Same(sdp.Opus) {
				t.Fatalf("negotiated %v / %v", ma.Send, mb.Send)
			}
			exchange(t, a, b, rate)
		})
	}
}

// Opus with telephone-event at 48 kHz, the clock of its timestamps.
func TestOpusDTMF(t *testing.T) {
	var ev events
	cfg := fastConfig(nil)
	cfg.SampleRate = 48000
	bcfg := fastConfig(&ev)
	bcfg.SampleRate = 48000
	a, _, ma, _ := pair(t, cfg, bcfg, func(a, b *sdp.Local) {
		a.Codecs, b.Codecs = []sdp.Codec{sdp.Opus}, []sdp.Codec{sdp.Opus}
	})
	if ma.SendDTMF.ClockRate != 48000 {
		t.Fatalf("DTMF format %v", ma.SendDTMF)
	}
	if err := a.SendDTMF("42", 120*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	eventually(t, "digits", func() bool { return len(ev.of(EventDTMF)) == 2 })
	for _, e := range ev.of(EventDTMF) {
		if e.Duration < 100*time.Millisecond || e.Duration > 140*time.Millisecond {
			t.Errorf("digit %c lasted %v", e.Digit, e.Duration)
		}
	}
}

func TestSupportedCodecsHasOpus(t *testing.T) {
	if !slices.ContainsFunc(SupportedCodecs(), sdp.Opus.Same) {
		t.Errorf("SupportedCodecs %v: no Opus in a build with it", SupportedCodecs())
	}
}

func TestOpusPacketDuration(t *testing.T) {
	d, err := newOpusDecoder(48000)
	if err != nil {
		t.Fatal(err)
	}
	e, err := newOpusEncoder(48000)
	if err != nil {
		t.Fatal(err)
	}
	for _, ms := range []int{10, 20, 40, 60} {
		pkt, err := e.Encode(make([]int16, 48*ms), nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := d.Samples(pkt); got != 48*ms {
			t.Errorf("%d ms packet: %d samples", ms, got)
		}
	}
	for toc, want := range map[byte]int{
		0:         480,  // config 0: SILK 10 ms, one frame
		3<<3 | 1:  5760, // SILK 60 ms, two frames
		13<<3 | 2: 1920, // hybrid 20 ms, two frames
		16 << 3:   120,  // CELT 2.5 ms, one frame
	} {
		if got := d.Samples([]byte{toc, 0}); got != want {
			t.Errorf("TOC %#x: %d samples, want %d", toc, got, want)
		}
	}
	if d.Samples([]byte{3}) != 0 || d.Samples(nil) != 0 {
		t.Errorf("a truncated packet has a duration")
	}
	if got := d.Samples([]byte{16<<3 | 3, 5}); got != 600 {
		t.Errorf("five CELT 2.5 ms frames: %d samples", got)
	}
}
