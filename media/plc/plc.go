// Package plc conceals lost frames of 16-bit PCM audio: it repeats the
// last good frame with a falling gain, so that a short gap is bridged and
// a long one fades to silence instead of buzzing.
package plc

// DefaultFadeFrames is how many concealed frames fade to silence when
// Concealer.FadeFrames is 0: 60 ms of 20 ms frames.
const DefaultFadeFrames = 3

// Concealer conceals the gaps of one stream. The zero value is ready.
type Concealer struct {
	// FadeFrames is how many consecutive concealed frames it takes to
	// reach silence.
	FadeFrames int

	last   []int16 // the last good frame
	pos    int     // where the repetition of last continues
	lost   int     // frames concealed since the last good one
	resume float64 // the gain the last concealed frame ended at
}

// Good records frame as the last good audio, and is called for every frame
// that plays. After a concealment it ramps frame up, in place, from the
// level the concealment ended at, so that the audio does not jump.
func (c *Concealer) Good(frame []int16) {
	if c.lost > 0 {
		ramp(frame, c.resume, 1)
	}
	c.last = append(c.last[:0], frame...)
	c.pos, c.lost = 0, 0
}

// Conceal fills dst with the last good frame repeated, each concealed
// frame quieter than the one before, down to silence after FadeFrames;
// before any good frame it fills silence.
func (c *Concealer) Conceal(dst []int16) {
	fade := c.FadeFrames
	if fade <= 0 {
		fade = DefaultFadeFrames
	}
	from := max(0, 1-float64(c.lost)/float64(fade))
	c.lost++
	to := max(0, 1-float64(c.lost)/float64(fade))
	c.resume = to
	if len(c.last) == 0 || from == 0 {
		clear(dst)
		return
	}
	for i := range dst {
		dst[i] = c.last[c.pos]
		c.pos = (c.pos + 1) % len(c.last)
	}
	ramp(dst, from, to)
}

// ramp scales pcm by a gain going linearly from `from` at the first
// sample towards `to`, which the sample after the last would reach.
func ramp(pcm []int16, from, to float64) {
	step := (to - from) / float64(len(pcm))
	for i, s := range pcm {
		pcm[i] = int16(float64(s) * (from + step*float64(i)))
	}
}
