package tone

import (
	"math"
	"slices"
	"testing"
	"time"
)

// goertzel returns the power of pcm at freq, normalised so that a full
// scale sine gives about 1.
func goertzel(pcm []int16, rate int, freq float64) float64 {
	w := 2 * math.Pi * freq / float64(rate)
	c := 2 * math.Cos(w)
	var s1, s2 float64
	for _, x := range pcm {
		s1, s2 = float64(x)/math.MaxInt16+c*s1-s2, s1
	}
	p := s1*s1 + s2*s2 - c*s1*s2
	n := float64(len(pcm))
	return 4 * p / (n * n)
}

func TestSineSamples(t *testing.T) {
	// 1 kHz at 8 kHz repeats every 8 samples.
	pcm, err := Generate(8000, Spec{Freqs: []float64{1000}, Level: 0.5}, 2*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if len(pcm) != 16 {
		t.Fatalf("%d samples for 2 ms at 8 kHz, want 16", len(pcm))
	}
	for i, got := range pcm {
		want := int16(math.Round(0.5 * math.MaxInt16 * math.Sin(2*math.Pi*float64(i)/8)))
		if got != want {
			t.Errorf("sample %d = %d, want %d", i, got, want)
		}
	}
}

func TestDualToneSpectrumAndPeak(t *testing.T) {
	s := Spec{Freqs: []float64{440, 480}, Level: 0.5}
	pcm, err := Generate(8000, s, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// Each component has amplitude 0.25: power 0.0625.
	for _, f := range []float64{440, 480} {
		if p := goertzel(pcm, 8000, f); math.Abs(p-0.0625) > 0.002 {
			t.Errorf("power at %v Hz = %.4f, want 0.0625", f, p)
		}
	}
	for _, f := range []float64{350, 460, 1000} {
		if p := goertzel(pcm, 8000, f); p > 0.001 {
			t.Errorf("power at %v Hz = %.4f, want none", f, p)
		}
	}
	peak := int16(0)
	for _, v := range pcm {
		peak = max(peak, v, -v)
	}
	limit := int16(16384) // half of full scale, rounded
	if peak > limit || peak < limit*95/100 {
		t.Errorf("peak %d, want just under the level %d", peak, limit)
	}
}

func TestCadenceAndContinuity(t *testing.T) {
	const rate = 8000
	whole, err := Generate(rate, RingbackEU, 6*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// 1 s on, 4 s off, on again.
	energy := func(from, to time.Duration) (e float64) {
		for _, v := range whole[int(from.Seconds()*rate):int(to.Seconds()*rate)] {
			e += float64(v) * float64(v)
		}
		return e
	}
	if energy(0, time.Second) == 0 || energy(5*time.Second, 6*time.Second) == 0 {
		t.Error("the tone is missing in an on period")
	}
	if e := energy(time.Second, 5*time.Second); e != 0 {
		t.Errorf("energy %v during the off period, want silence", e)
	}
	if p := goertzel(whole[:rate], rate, 425); math.Abs(p-0.0625) > 0.002 {
		t.Errorf("power at 425 Hz = %.4f, want 0.0625", p)
	}

	// 20 ms reads give the very same signal as one long one.
	g, err := New(rate, RingbackEU)
	if err != nil {
		t.Fatal(err)
	}
	var pieces []int16
	frame := make([]int16, 160)
	for len(pieces) < len(whole) {
		g.Read(frame)
		pieces = append(pieces, frame...)
	}
	if !slices.Equal(pieces, whole) {
		t.Error("reading 20 ms at a time differs from generating at once")
	}
}

func TestInvalidSpecs(t *testing.T) {
	cases := map[string]struct {
		rate int
		s    Spec
	}{
		"no rate":       {0, Spec{Freqs: []float64{440}, Level: 0.5}},
		"no frequency":  {8000, Spec{Level: 0.5}},
		"zero level":    {8000, Spec{Freqs: []float64{440}}},
		"level above 1": {8000, Spec{Freqs: []float64{440}, Level: 1.5}},
		"NaN level":     {8000, Spec{Freqs: []float64{440}, Level: math.NaN()}},
		"above Nyquist": {8000, Spec{Freqs: []float64{440, 4000}, Level: 0.5}},
		"negative freq": {8000, Spec{Freqs: []float64{-440}, Level: 0.5}},
		"off, never on": {8000, Spec{Freqs: []float64{440}, Level: 0.5, Off: time.Second}},
		"negative on":   {8000, Spec{Freqs: []float64{440}, Level: 0.5, On: -time.Second}},
	}
	for name, c := range cases {
		if _, err := Generate(c.rate, c.s, time.Second); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := Generate(8000, RingbackNA, -time.Second); err == nil {
		t.Error("negative duration: accepted")
	}
}
