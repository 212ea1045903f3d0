// Package g711 converts between 16-bit linear PCM and G.711 µ-law (PCMU)
// and A-law (PCMA) as specified by ITU-T G.711.
//
// The quantisers follow the ITU-T G.191 reference implementation: negative
// samples are folded with a one's complement, so the quantiser is
// symmetric and -1 encodes as negative zero.
package g711

import (
	"math/bits"
	"slices"
)

// ulawBias is the µ-law bias of 33 (in 14-bit units) scaled to 16-bit.
const ulawBias = 33 << 2

// Encoding goes through tables indexed by the sample's top bits: µ-law
// decides on the top 14 bits and A-law on the top 12, so 16K and 4K
// entries hold every decision exactly (see BenchmarkEncode* for the gain).
var (
	ulawEncode = func() (t [1 << 14]byte) {
		for i := range t {
			t[i] = LinearToUlaw(int16(uint16(i) << 2))
		}
		return t
	}()
	alawEncode = func() (t [1 << 12]byte) {
		for i := range t {
			t[i] = LinearToAlaw(int16(uint16(i) << 4))
		}
		return t
	}()
	ulawDecode = func() (t [256]int16) {
		for i := range t {
			t[i] = UlawToLinear(byte(i))
		}
		return t
	}()
	alawDecode = func() (t [256]int16) {
		for i := range t {
			t[i] = AlawToLinear(byte(i))
		}
		return t
	}()
)

// LinearToUlaw encodes one sample as a µ-law code.
func LinearToUlaw(s int16) byte {
	x := int32(s)
	mask := byte(0xFF) // the code is transmitted inverted; positive has the sign bit set
	if x < 0 {
		x = ^x
		mask = 0x7F
	}
	m := x>>2 + 33 // 14-bit magnitude plus bias: 33..8224
	if m > 0x1FFF {
		m = 0x1FFF // saturate into the top interval
	}
	seg := bits.Len32(uint32(m)) - 6 // m >= 33 has at least 6 bits
	code := byte(seg<<4) | byte(m>>(seg+1))&0x0F
	return code ^ mask
}

// UlawToLinear decodes one µ-law code to the middle of its interval.
func UlawToLinear(u byte) int16 {
	u = ^u
	seg := (u >> 4) & 0x07
	t := (int32(u&0x0F)<<3 + ulawBias) << seg
	if u&0x80 != 0 {
		return int16(ulawBias - t)
	}
	return int16(t - ulawBias)
}

// LinearToAlaw encodes one sample as an A-law code.
func LinearToAlaw(s int16) byte {
	x := int32(s)
	mask := byte(0xD5) // sign bit set for positive, even bits inverted
	if x < 0 {
		x = ^x
		mask = 0x55
	}
	m := x >> 4 // 12-bit magnitude: 0..2047
	code := byte(m)
	if m >= 32 {
		seg := bits.Len32(uint32(m)) - 4 // 2..7
		code = byte(seg<<4) | byte(m>>(seg-1))&0x0F
	}
	return code ^ mask
}

// AlawToLinear decodes one A-law code to the middle of its interval.
func AlawToLinear(a byte) int16 {
	a ^= 0x55
	seg := (a >> 4) & 0x07
	t := int32(a&0x0F)<<4 + 8
	if seg > 0 {
		t += 0x100 // the implicit leading one of segments 1..7
	}
	if seg > 1 {
		t <<= seg - 1
	}
	if a&0x80 != 0 {
		return int16(t)
	}
	return int16(-t)
}

// EncodeUlaw appends the µ-law codes of pcm to dst and returns the
// extended slice.
func EncodeUlaw(pcm []int16, dst []byte) []byte {
	n := len(dst)
	dst = slices.Grow(dst, len(pcm))[:n+len(pcm)]
	out := dst[n:]
	for i, s := range pcm {
		out[i] = ulawEncode[uint16(s)>>2]
	}
	return dst
}

// DecodeUlaw appends the samples of the µ-law codes in payload to dst and
// returns the extended slice. Every byte is a valid code.
func DecodeUlaw(payload []byte, dst []int16) []int16 {
	n := len(dst)
	dst = slices.Grow(dst, len(payload))[:n+len(payload)]
	out := dst[n:]
	for i, b := range payload {
		out[i] = ulawDecode[b]
	}
	return dst
}

// EncodeAlaw appends the A-law codes of pcm to dst and returns the
// extended slice.
func EncodeAlaw(pcm []int16, dst []byte) []byte {
	n := len(dst)
	dst = slices.Grow(dst, len(pcm))[:n+len(pcm)]
	out := dst[n:]
	for i, s := range pcm {
		out[i] = alawEncode[uint16(s)>>4]
	}
	return dst
}

// DecodeAlaw appends the samples of the A-law codes in payload to dst and
// returns the extended slice. Every byte is a valid code.
func DecodeAlaw(payload []byte, dst []int16) []int16 {
	n := len(dst)
	dst = slices.Grow(dst, len(payload))[:n+len(payload)]
	out := dst[n:]
	for i, b := range payload {
		out[i] = alawDecode[b]
	}
	return dst
}
