// Package tone generates sine tones and dual tones as 16-bit PCM, with an
// optional on/off cadence: ringback, and test signals.
package tone

import (
	"fmt"
	"math"
	"time"
)

// Spec describes a tone.
type Spec struct {
	Freqs []float64 // Hz; the components are summed with equal amplitude
	Level float64   // peak of the sum, as a fraction of full scale: (0, 1]
	// On and Off make a cadence; Off 0 means a continuous tone.
	On, Off time.Duration
}

// Ringback tones: the North American one (ANSI T1.401) and the European
// one (CEPT, ETSI TR 101 041). Copy before changing.
var (
	RingbackNA = Spec{Freqs: []float64{440, 480}, Level: 0.25, On: 2 * time.Second, Off: 4 * time.Second}
	RingbackEU = Spec{Freqs: []float64{425}, Level: 0.25, On: time.Second, Off: 4 * time.Second}
)

// Generator produces a tone continuously: each Read goes on where the
// previous one stopped.
type Generator struct {
	amp    float64   // peak of one component
	steps  []float64 // phase increments per sample, in cycles
	phases []float64
	on     int // samples on, 0 for continuous
	period int // samples on + off
	pos    int // sample index within the period
}

// New returns a generator of s at rate samples per second.
func New(rate int, s Spec) (*Generator, error) {
	switch {
	case rate <= 0:
		return nil, fmt.Errorf("tone: sample rate %d: must be positive", rate)
	case len(s.Freqs) == 0:
		return nil, fmt.Errorf("tone: no frequency")
	case !(s.Level > 0 && s.Level <= 1):
		return nil, fmt.Errorf("tone: level %v: must be in (0, 1]", s.Level)
	case s.On < 0 || s.Off < 0 || s.Off > 0 && s.On == 0:
		return nil, fmt.Errorf("tone: cadence %v on, %v off: need a positive on time when off", s.On, s.Off)
	}
	g := &Generator{
		amp:    s.Level * math.MaxInt16 / float64(len(s.Freqs)),
		steps:  make([]float64, len(s.Freqs)),
		phases: make([]float64, len(s.Freqs)),
	}
	for i, f := range s.Freqs {
		if !(f > 0 && f < float64(rate)/2) {
			return nil, fmt.Errorf("tone: frequency %v Hz: must lie between 0 and half the sample rate (%d Hz)", f, rate/2)
		}
		g.steps[i] = f / float64(rate)
	}
	if s.Off > 0 {
		g.on = samples(rate, s.On)
		g.period = g.on + samples(rate, s.Off)
	}
	return g, nil
}

func samples(rate int, d time.Duration) int {
	return int(math.Round(d.Seconds() * float64(rate)))
}

// Read fills dst with the next samples of the tone.
func (g *Generator) Read(dst []int16) {
	for i := range dst {
		silent := g.period > 0 && g.pos >= g.on
		if g.period > 0 {
			g.pos = (g.pos + 1) % g.period
		}
		var v float64
		for k, p := range g.phases {
			if !silent {
				v += math.Sin(2 * math.Pi * p)
			}
			p += g.steps[k]
			g.phases[k] = p - math.Floor(p)
		}
		dst[i] = int16(math.Round(v * g.amp))
	}
}

// Generate returns d of the tone s at rate samples per second.
func Generate(rate int, s Spec, d time.Duration) ([]int16, error) {
	if d < 0 {
		return nil, fmt.Errorf("tone: duration %v: must not be negative", d)
	}
	g, err := New(rate, s)
	if err != nil {
		return nil, err
	}
	pcm := make([]int16, samples(rate, d))
	g.Read(pcm)
	return pcm, nil
}
