package audio

import (
	"fmt"
	"time"

	"github.com/tandem-softphone/tandem/media/tone"
	"github.com/tandem-softphone/tandem/media/wav"
)

// DefaultRingtone is the tone pattern rung when no file is chosen: a
// dual tone, one second on, two off.
var DefaultRingtone = tone.Spec{Freqs: []float64{440, 480}, Level: 0.3, On: time.Second, Off: 2 * time.Second}

// Ringtone is what rings: a WAV file played over and over, or else a
// tone pattern (DefaultRingtone when Tone has no frequency).
type Ringtone struct {
	WAV  string
	Tone tone.Spec
}

// PlayRingtone rings on the device (the ring device, typically) until the
// returned Device is closed.
func PlayRingtone(b Backend, device string, cfg Config, r Ringtone) (Device, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	var fill func(pcm []int16)
	if r.WAV != "" {
		rate, pcm, err := wav.ReadFile(r.WAV)
		if err != nil {
			return nil, fmt.Errorf("audio: ringtone: %w", err)
		}
		pcm = Resample(pcm, rate, cfg.SampleRate)
		if len(pcm) == 0 {
			return nil, fmt.Errorf("audio: ringtone %s: no audio", r.WAV)
		}
		pos := 0
		fill = func(out []int16) {
			for n := 0; n < len(out); {
				c := copy(out[n:], pcm[pos:])
				n, pos = n+c, (pos+c)%len(pcm)
			}
		}
	} else {
		spec := r.Tone
		if len(spec.Freqs) == 0 {
			spec = DefaultRingtone
		}
		gen, err := tone.New(cfg.SampleRate, spec)
		if err != nil {
			return nil, fmt.Errorf("audio: ringtone: %w", err)
		}
		fill = gen.Read
	}
	d, err := b.OpenPlayback(device, cfg, fill)
	if err != nil {
		return nil, fmt.Errorf("audio: ringtone: %w", err)
	}
	return d, nil
}
