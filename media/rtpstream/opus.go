//go:build cgo && !noopus

package rtpstream

import (
	"fmt"

	"gopkg.in/hraban/opus.v2"

	"github.com/tandem-softphone/tandem/media/sdp"
)

// Opus through libopus (Debian libopus-dev). The codec runs at the
// stream's PCM rate, which libopus resamples itself; RTP always counts
// 48 kHz (RFC 7587). A build with the noopus tag, or without cgo, leaves
// Opus out of SupportedCodecs.
func init() {
	codecs = append(codecs, codecImpl{format: sdp.Opus, newEncoder: newOpusEncoder, newDecoder: newOpusDecoder})
}

// maxOpusSamples is 120 ms at 48 kHz, the longest Opus packet.
const maxOpusSamples = 5760

type opusEncoder struct {
	enc  *opus.Encoder
	rate int
}

func newOpusEncoder(rate int) (encoder, error) {
	enc, err := opus.NewEncoder(rate, 1, opus.AppVoIP)
	if err != nil {
		return nil, fmt.Errorf("opus encoder at %d Hz: %w", rate, err)
	}
	return &opusEncoder{enc: enc, rate: rate}, nil
}

func (e *opusEncoder) Rate() int { return e.rate }

func (e *opusEncoder) Encode(pcm []int16, dst []byte) ([]byte, error) {
	n := len(dst)
	dst = append(dst, make([]byte, 1500)...)
	m, err := e.enc.Encode(pcm, dst[n:])
	if err != nil {
		return dst[:n], fmt.Errorf("opus encode: %w", err)
	}
	return dst[:n+m], nil
}

type opusDecoder struct {
	dec  *opus.Decoder
	rate int
	buf  []int16
}

func newOpusDecoder(rate int) (decoder, error) {
	dec, err := opus.NewDecoder(rate, 1)
	if err != nil {
		return nil, fmt.Errorf("opus decoder at %d Hz: %w", rate, err)
	}
	return &opusDecoder{dec: dec, rate: rate, buf: make([]int16, maxOpusSamples)}, nil
}

func (d *opusDecoder) Rate() int { return d.rate }

// Samples reads the packet's duration from its TOC byte (RFC 6716
// section 3.1).
func (d *opusDecoder) Samples(payload []byte) int {
	if len(payload) == 0 {
		return 0
	}
	toc := payload[0]
	config := int(toc >> 3)
	var tenthsMs int // frame duration in 0.1 ms
	switch {
	case config < 12: // SILK: 10, 20, 40, 60 ms
		tenthsMs = []int{100, 200, 400, 600}[config%4]
	case config < 16: // hybrid: 10, 20 ms
		tenthsMs = []int{100, 200}[config%2]
	default: // CELT: 2.5, 5, 10, 20 ms
		tenthsMs = []int{25, 50, 100, 200}[config%4]
	}
	frames := 1
	switch toc & 3 {
	case 1, 2:
		frames = 2
	case 3:
		if len(payload) < 2 {
			return 0
		}
		frames = int(payload[1] & 0x3F)
	}
	return frames * tenthsMs * d.rate / 10000
}

func (d *opusDecoder) Decode(payload []byte, dst []int16) ([]int16, error) {
	n, err := d.dec.Decode(payload, d.buf)
	if err != nil {
		return dst, fmt.Errorf("opus decode: %w", err)
	}
	return append(dst, d.buf[:n]...), nil
}

func (d *opusDecoder) Conceal(dst []int16, n int) []int16 {
	n = min(n, maxOpusSamples*d.rate/48000)
	// libopus fills exactly the slice's capacity: cap it to n.
	if err := d.dec.DecodePLC(d.buf[:n:n]); err != nil {
		return append(dst, make([]int16, n)...)
	}
	return append(dst, d.buf[:n]...)
}
