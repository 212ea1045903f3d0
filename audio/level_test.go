package audio

import (
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/tandem-softphone/tandem/media/tone"
	"github.com/tandem-softphone/tandem/media/wav"
)

func TestLevelOfKnownSignals(t *testing.T) {
	square := make([]int16, 800)
	for i := range square {
		square[i] = 32767
		if i%2 == 1 {
			square[i] = -32767
		}
	}
	for _, tc := range []struct {
		name string
		pcm  []int16
		want float64
	}{
		{"nothing", nil, SilenceDBFS},
		{"silence", make([]int16, 160), SilenceDBFS},
		{"full-scale square", square, 0},
	} {
		if got := Level(tc.pcm); math.Abs(got-tc.want) > 0.01 {
			t.Errorf("%s: %.2f dBFS, want %.2f", tc.name, got, tc.want)
		}
	}
}

// A 1 kHz sine at half scale, written to a WAV file and read back as a
// microphone would hear it, measures -9 dBFS (-6 for half, -3 for a sine).
func TestLevelOfSineFromWAV(t *testing.T) {
	pcm, err := tone.Generate(8000, tone.Spec{Freqs: []float64{1000}, Level: 0.5}, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "sine.wav")
	if err := wav.WriteFile(file, 8000, pcm); err != nil {
		t.Fatal(err)
	}
	_, back, err := wav.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if got := Level(back[:160]); math.Abs(got-(-9.03)) > 0.3 {
		t.Errorf("half-scale sine: %.2f dBFS, want -9.03", got)
	}
}

func TestMeterFraction(t *testing.T) {
	for in, want := range map[float64]float64{SilenceDBFS: 0, -60: 0, -30: 0.5, 0: 1, 3: 1} {
		if got := MeterFraction(in); math.Abs(got-want) > 1e-9 {
			t.Errorf("MeterFraction(%v) = %v, want %v", in, got, want)
		}
	}
}
