package audio

import "math"

// SilenceDBFS is the level of digital silence, and the floor of Level.
const SilenceDBFS = -96.0

// Level is the RMS level of pcm in dB relative to full scale: 0 for a
// full-scale square wave, about -3 for a full-scale sine, SilenceDBFS for
// silence or no samples.
func Level(pcm []int16) float64 {
	if len(pcm) == 0 {
		return SilenceDBFS
	}
	var sum float64
	for _, s := range pcm {
		v := float64(s) / 32768
		sum += v * v
	}
	rms := math.Sqrt(sum / float64(len(pcm)))
	if rms == 0 {
		return SilenceDBFS
	}
	return max(20*math.Log10(rms), SilenceDBFS)
}

// MeterFraction maps a level to a meter's 0…1 over the -60…0 dBFS a
// microphone meter shows: quieter is empty, full scale is full.
func MeterFraction(dBFS float64) float64 {
	const floor = -60.0
	return min(max((dBFS-floor)/-floor, 0), 1)
}
