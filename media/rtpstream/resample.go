package rtpstream

// resampler converts PCM between the stream's rate and a codec's when one
// is an integer multiple of the other (48 or 16 kHz devices with 8 kHz
// G.711). Voice needs no more than this: a box filter to go down and
// linear interpolation to go up.
type resampler struct {
	factor int  // 1 copies
	up     bool // interpolate factor samples per input sample
	last   int32
}

func newResampler(from, to int) resampler {
	if to >= from {
		return resampler{factor: to / from, up: true}
	}
	return resampler{factor: from / to}
}

// convert appends the converted in to dst. Going down, len(in) must be a
// multiple of the factor (frames of whole milliseconds are).
func (r *resampler) convert(in, dst []int16) []int16 {
	switch {
	case r.factor <= 1:
		return append(dst, in...)
	case r.up:
		k := int32(r.factor)
		for _, s := range in {
			x := int32(s)
			for m := int32(1); m <= k; m++ {
				dst = append(dst, int16(r.last+(x-r.last)*m/k))
			}
			r.last = x
		}
	default:
		for i := 0; i+r.factor <= len(in); i += r.factor {
			var sum int32
			for _, s := range in[i : i+r.factor] {
				sum += int32(s)
			}
			dst = append(dst, int16(sum/int32(r.factor)))
		}
	}
	return dst
}
