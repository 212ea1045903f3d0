package sipcall

import (
	"math"
	"slices"
	"time"

	"github.com/tandem-softphone/tandem/audio"
	"github.com/tandem-softphone/tandem/media/tone"
	"github.com/tandem-softphone/tandem/media/wav"
)

// sampleRate is the PCM rate of the calls: G.711's.
const sampleRate = 8000

// The pump's pacing: it queues audio a little ahead of the stream's clock
// and reads a little behind it, so that timer jitter neither starves the
// stream nor reads silence from it.
// The stream queues at most 80 ms to send and 120 ms to play: the lead
// and the lag leave room on both sides.
const (
	pumpTick = 10 * time.Millisecond
	pumpLead = 50 * time.Millisecond
	pumpLag  = 70 * time.Millisecond
)

// source produces the audio a call sends.
type source interface {
	// fill writes the next len(dst) samples; heard is what the call
	// received since the last fill (an echo sends it back).
	fill(dst, heard []int16)
}

// pcmSource plays samples once, then silence.
type pcmSource struct {
	pcm []int16
	pos int
}

func (s *pcmSource) fill(dst, _ []int16) {
	n := copy(dst, s.pcm[s.pos:])
	s.pos += n
	clear(dst[n:])
}

// toneSource plays a tone without end.
type toneSource struct{ g *tone.Generator }

func newToneSource(spec tone.Spec) *toneSource {
	// New checked the spec at sampleRate.
	g, _ := tone.New(sampleRate, spec)
	return &toneSource{g: g}
}

func (s *toneSource) fill(dst, _ []int16) { s.g.Read(dst) }

// echoSource sends back what was heard, in order, silence while it has none.
type echoSource struct{ fifo []int16 }

func (s *echoSource) fill(dst, heard []int16) {
	s.fifo = append(s.fifo, heard...)
	n := copy(dst, s.fifo)
	s.fifo = s.fifo[:copy(s.fifo, s.fifo[n:])]
	clear(dst[n:])
}

// readAudio reads a WAV file as 8 kHz PCM.
func readAudio(name string) ([]int16, error) {
	rate, pcm, err := wav.ReadFile(name)
	if err != nil {
		return nil, err
	}
	return audio.Resample(pcm, rate, sampleRate), nil
}

// pump moves a connected call's audio until stop: the source's samples to
// the stream, the stream's to the recording (and back to an echo).
func (c *call) pump(stop <-chan struct{}) {
	c.mu.Lock()
	stream, rec, src := c.stream, c.rec, c.src
	c.mu.Unlock()
	samples := func(d time.Duration) int { return int(d * sampleRate / time.Second) }
	lead, lag := samples(pumpLead), samples(pumpLag)
	tick := time.NewTicker(pumpTick)
	defer tick.Stop()
	start := time.Now()
	var written, read int
	for {
		now := samples(time.Since(start))
		var heard []int16
		if n := now - lag - read; n > 0 {
			heard = make([]int16, n)
			stream.Read(heard)
			read += n
			if rec != nil {
				if err := rec.Write(heard); err != nil {
					c.ua.log.Warn("recording stopped", "call", c.id, "err", err)
					rec = nil
				}
			}
		}
		if n := now + lead - written; n > 0 {
			out := make([]int16, n)
			src.fill(out, heard)
			stream.Write(out)
			written += n
		} else if heard != nil {
			src.fill(nil, heard)
		}
		select {
		case <-stop:
			return
		case <-tick.C:
		}
	}
}

// similarityWindow is the length of the pieces Similarity matches one by
// one: short, so that a slip ruins little, long enough to hold a few
// periods of speech or tones.
const similarityWindow = 400 // 50 ms

// similarityTrack is how far from the previous piece's shift Similarity
// looks first: slips are short, and a full search costs CPU that the calls
// of other tests need.
const similarityTrack = 400

// Similarity tells how faithfully got carries ref, up to maxLag samples
// earlier or later: ref is cut into 50 ms pieces, each piece is looked for
// on its own (so that a slip of the far end's clock costs only the piece it
// falls in), and the median of the pieces' best normalised
// cross-correlations is returned: about 1 when got carries ref at any
// level, about 0 for unrelated audio or silence. Tests compare what a call
// sent with what the far end recorded; the recording may have started
// before the audio came, or after it began.
func Similarity(ref, got []int16, maxLag int) float64 {
	var scores []float64
	shift, tracking := 0, false // where got[off+shift] matched ref[off]
	for off := 0; off+similarityWindow <= len(ref); off += similarityWindow {
		piece := ref[off : off+similarityWindow]
		from, to := max(off-maxLag, 0), min(off+similarityWindow+maxLag, len(got))
		if tracking {
			f := max(from, off+shift-similarityTrack)
			t := min(to, off+shift+similarityWindow+similarityTrack)
			if t-f >= similarityWindow {
				if c, at := bestCorrelation(piece, got[f:t]); c >= 0.9 {
					scores, shift = append(scores, c), f+at-off
					continue
				}
			}
		}
		if to-from < similarityWindow {
			scores = append(scores, 0)
			continue
		}
		c, at := bestCorrelation(piece, got[from:to])
		scores = append(scores, c)
		shift, tracking = from+at-off, c >= 0.9
	}
	if len(scores) == 0 {
		return 0
	}
	slices.Sort(scores)
	return scores[len(scores)/2]
}

// bestCorrelation is the highest normalised cross-correlation of ref with
// got shifted by 0 to len(got)-len(ref) samples, and that shift.
func bestCorrelation(ref, got []int16) (float64, int) {
	var refEnergy float64
	for _, v := range ref {
		refEnergy += float64(v) * float64(v)
	}
	var window float64 // energy of got[l : l+len(ref)]
	for _, v := range got[:len(ref)] {
		window += float64(v) * float64(v)
	}
	best, at := 0.0, 0
	for l := 0; l+len(ref) <= len(got); l++ {
		if l > 0 {
			out, in := float64(got[l-1]), float64(got[l+len(ref)-1])
			window += in*in - out*out
		}
		if window < 1 || refEnergy < 1 {
			continue
		}
		var dot float64
		seg := got[l : l+len(ref)]
		for i, v := range ref {
			dot += float64(v) * float64(seg[i])
		}
		if c := dot / math.Sqrt(refEnergy*window); c > best {
			best, at = c, l
		}
	}
	return best, at
}
