package rtpstream

import (
	"fmt"
	"strings"
	"time"

	"github.com/tandem-softphone/tandem/media/g711"
	"github.com/tandem-softphone/tandem/media/plc"
	"github.com/tandem-softphone/tandem/media/sdp"
)

// encoder turns frames of PCM at its Rate into payloads.
type encoder interface {
	Rate() int
	Encode(pcm []int16, dst []byte) ([]byte, error)
}

// decoder turns payloads into PCM at its Rate and conceals lost ones.
type decoder interface {
	Rate() int
	// Samples is how many samples (at Rate) the payload holds, or 0 when
	// it cannot tell.
	Samples(payload []byte) int
	Decode(payload []byte, dst []int16) ([]int16, error)
	// Conceal appends n samples that stand in for a lost payload.
	Conceal(dst []int16, n int) []int16
}

// codecImpl makes encoders and decoders of one payload format for a
// stream whose PCM runs at pcmRate.
type codecImpl struct {
	format     sdp.Codec
	newEncoder func(pcmRate int) (encoder, error)
	newDecoder func(pcmRate int) (decoder, error)
}

var codecs = []codecImpl{
	{format: sdp.PCMU, newEncoder: func(int) (encoder, error) { return g711Encoder{g711.EncodeUlaw}, nil },
		newDecoder: func(int) (decoder, error) { return &g711Decoder{decode: g711.DecodeUlaw}, nil }},
	{format: sdp.PCMA, newEncoder: func(int) (encoder, error) { return g711Encoder{g711.EncodeAlaw}, nil },
		newDecoder: func(int) (decoder, error) { return &g711Decoder{decode: g711.DecodeAlaw}, nil }},
}

// SupportedCodecs returns the voice formats this build can send and
// receive, in our order of preference: PCMU, PCMA, and Opus when built
// with it (cgo and libopus, without the noopus tag). It is what the call
// layer puts in sdp.Local.Codecs.
func SupportedCodecs() []sdp.Codec {
	out := make([]sdp.Codec, len(codecs))
	for i, c := range codecs {
		out[i] = c.format
	}
	return out
}

func findCodec(c sdp.Codec) (codecImpl, error) {
	for _, impl := range codecs {
		if impl.format.Same(c) {
			return impl, nil
		}
	}
	return codecImpl{}, fmt.Errorf("codec %v: not supported by this build", c)
}

type g711Encoder struct {
	encode func(pcm []int16, dst []byte) []byte
}

func (g711Encoder) Rate() int { return 8000 }

func (e g711Encoder) Encode(pcm []int16, dst []byte) ([]byte, error) {
	return e.encode(pcm, dst), nil
}

type g711Decoder struct {
	decode func(payload []byte, dst []int16) []int16
	plc    plc.Concealer
}

func (*g711Decoder) Rate() int { return 8000 }

func (*g711Decoder) Samples(payload []byte) int { return len(payload) }

func (d *g711Decoder) Decode(payload []byte, dst []int16) ([]int16, error) {
	n := len(dst)
	dst = d.decode(payload, dst)
	d.plc.Good(dst[n:])
	return dst, nil
}

func (d *g711Decoder) Conceal(dst []int16, n int) []int16 {
	start := len(dst)
	dst = append(dst, make([]int16, n)...)
	d.plc.Conceal(dst[start:])
	return dst
}

// frameDuration is the duration of n samples at rate.
func frameDuration(n, rate int) time.Duration {
	return time.Duration(n) * time.Second / time.Duration(rate)
}

// ptimeFor returns the packet duration we send for the peer's wish: the
// codec's frame sizes limit it, and anything odd falls back to 20 ms.
func ptimeFor(c sdp.Codec, want time.Duration) time.Duration {
	ok := []time.Duration{10, 20, 30, 40, 60}
	if strings.EqualFold(c.Name, "opus") {
		ok = []time.Duration{10, 20, 40, 60}
	}
	for _, ms := range ok {
		if want == ms*time.Millisecond {
			return want
		}
	}
	return sdp.DefaultPTime
}
