package g711

import (
	"bytes"
	"math"
	"slices"
	"testing"
)

// Decoder outputs of G.711 Table 2a (µ-law, 14-bit units) and Table 1a
// (A-law, 13-bit units): the first output of each segment and the step
// inside it. The 16-bit values are these scaled by 4 and by 8.
var (
	ulawSegFirst = [8]int{0, 33, 99, 231, 495, 1023, 2079, 4191}
	ulawSegStep  = [8]int{2, 4, 8, 16, 32, 64, 128, 256}
	alawSegFirst = [8]int{1, 33, 66, 132, 264, 528, 1056, 2112}
	alawSegStep  = [8]int{2, 2, 4, 8, 16, 32, 64, 128}
)

func TestDecodeMatchesStandardTables(t *testing.T) {
	for seg := range 8 {
		for m := range 16 {
			want := 4 * (ulawSegFirst[seg] + m*ulawSegStep[seg])
			pos := byte(0xFF - (seg<<4 | m)) // transmitted inverted
			if got := UlawToLinear(pos); int(got) != want {
				t.Errorf("µ-law %#02x (seg %d, step %d) = %d, want %d", pos, seg, m, got, want)
			}
			if got := UlawToLinear(pos &^ 0x80); int(got) != -want {
				t.Errorf("µ-law %#02x = %d, want %d", pos&^0x80, got, -want)
			}

			want = 8 * (alawSegFirst[seg] + m*alawSegStep[seg])
			pos = byte(0x80|seg<<4|m) ^ 0x55 // even bits inverted
			if got := AlawToLinear(pos); int(got) != want {
				t.Errorf("A-law %#02x (seg %d, step %d) = %d, want %d", pos, seg, m, got, want)
			}
			if got := AlawToLinear(pos ^ 0x80); int(got) != -want {
				t.Errorf("A-law %#02x = %d, want %d", pos^0x80, got, -want)
			}
		}
	}
}

// Well-known points: silence codes, segment edges, saturation.
func TestReferencePoints(t *testing.T) {
	ulaw := []struct {
		in   int16
		code byte
		out  int16
	}{
		{0, 0xFF, 0},
		{3, 0xFF, 0},
		{4, 0xFE, 8},
		{-1, 0x7F, 0}, // negative zero
		{-4, 0x7F, 0},
		{-5, 0x7E, -8},
		{123, 0xF0, 120},   // last step of segment 0
		{124, 0xEF, 132},   // decision value 31 opens segment 1
		{-125, 0x6F, -132}, // one's complement: -125 folds to 124
		{31611, 0x81, 31100},
		{31612, 0x80, 32124},
		{32767, 0x80, 32124}, // saturation
		{-32768, 0x00, -32124},
	}
	for _, c := range ulaw {
		if got := LinearToUlaw(c.in); got != c.code {
			t.Errorf("LinearToUlaw(%d) = %#02x, want %#02x", c.in, got, c.code)
		}
		if got := UlawToLinear(c.code); got != c.out {
			t.Errorf("UlawToLinear(%#02x) = %d, want %d", c.code, got, c.out)
		}
	}
	alaw := []struct {
		in   int16
		code byte
		out  int16
	}{
		{0, 0xD5, 8},
		{15, 0xD5, 8},
		{16, 0xD4, 24},
		{-1, 0x55, -8},
		{-16, 0x55, -8},
		{-17, 0x54, -24},
		{263, 0xC5, 264}, // segment 1 starts at 256 (decision value 32)
		{528, 0xF5, 528},
		{1056, 0xE5, 1056},
		{2112, 0x95, 2112},
		{4224, 0x85, 4224},
		{8448, 0xB5, 8448},
		{16896, 0xA5, 16896},
		{32767, 0xAA, 32256},
		{-32768, 0x2A, -32256},
	}
	for _, c := range alaw {
		if got := LinearToAlaw(c.in); got != c.code {
			t.Errorf("LinearToAlaw(%d) = %#02x, want %#02x", c.in, got, c.code)
		}
		if got := AlawToLinear(c.code); got != c.out {
			t.Errorf("AlawToLinear(%#02x) = %d, want %d", c.code, got, c.out)
		}
	}
}

// Every code survives decode then encode; µ-law's negative zero (0x7F)
// decodes to 0, which encodes as positive zero (0xFF).
func TestCodeRoundTrip(t *testing.T) {
	for i := range 256 {
		b := byte(i)
		want := b
		if b == 0x7F {
			want = 0xFF
		}
		if got := LinearToUlaw(UlawToLinear(b)); got != want {
			t.Errorf("µ-law %#02x -> %d -> %#02x", b, UlawToLinear(b), got)
		}
		if got := LinearToAlaw(AlawToLinear(b)); got != b {
			t.Errorf("A-law %#02x -> %d -> %#02x", b, AlawToLinear(b), got)
		}
	}
}

// For every int16, decode(encode(x)) lies within half a quantisation step
// of x (after µ-law's saturation), and the round trip never decreases as x
// grows.
func TestSampleRoundTrip(t *testing.T) {
	prevU, prevA := int(math.MinInt16), int(math.MinInt16)
	for v := math.MinInt16; v <= math.MaxInt16; v++ {
		x := int16(v)

		u := LinearToUlaw(x)
		yu := int(UlawToLinear(u))
		seg := int(^u>>4) & 7
		half := 4 * ulawSegStep[seg] / 2
		clamped := min(max(v, -32636), 32635) // µ-law saturates beyond ±8159 (14-bit)
		if d := yu - clamped; d > half || d < -half {
			t.Fatalf("µ-law %d -> %#02x -> %d: error %d beyond half step %d", v, u, yu, d, half)
		}
		if yu < prevU {
			t.Fatalf("µ-law not monotonic at %d: %d after %d", v, yu, prevU)
		}
		prevU = yu

		a := LinearToAlaw(x)
		ya := int(AlawToLinear(a))
		seg = int((a^0x55)>>4) & 7
		half = 8 * alawSegStep[seg] / 2
		if d := ya - v; d > half || d < -half {
			t.Fatalf("A-law %d -> %#02x -> %d: error %d beyond half step %d", v, a, ya, d, half)
		}
		if ya < prevA {
			t.Fatalf("A-law not monotonic at %d: %d after %d", v, ya, prevA)
		}
		prevA = ya
	}
}

// The encode tables agree with the computed quantisers on every sample.
func TestSliceFunctionsMatchSampleFunctions(t *testing.T) {
	pcm := make([]int16, 0, 1<<16)
	for v := math.MinInt16; v <= math.MaxInt16; v++ {
		pcm = append(pcm, int16(v))
	}
	prefix := []byte{1, 2, 3}
	u := EncodeUlaw(pcm, slices.Clone(prefix))
	a := EncodeAlaw(pcm, slices.Clone(prefix))
	if !bytes.Equal(u[:3], prefix) || !bytes.Equal(a[:3], prefix) {
		t.Fatal("encode overwrote dst's contents instead of appending")
	}
	for i, x := range pcm {
		if u[3+i] != LinearToUlaw(x) {
			t.Fatalf("EncodeUlaw(%d) = %#02x, LinearToUlaw says %#02x", x, u[3+i], LinearToUlaw(x))
		}
		if a[3+i] != LinearToAlaw(x) {
			t.Fatalf("EncodeAlaw(%d) = %#02x, LinearToAlaw says %#02x", x, a[3+i], LinearToAlaw(x))
		}
	}

	codes := make([]byte, 256)
	for i := range codes {
		codes[i] = byte(i)
	}
	du := DecodeUlaw(codes, []int16{7})
	da := DecodeAlaw(codes, []int16{7})
	if len(du) != 257 || len(da) != 257 || du[0] != 7 || da[0] != 7 {
		t.Fatalf("decode did not append: len %d/%d, first %d/%d", len(du), len(da), du[0], da[0])
	}
	for i, b := range codes {
		if du[1+i] != UlawToLinear(b) || da[1+i] != AlawToLinear(b) {
			t.Fatalf("decode tables disagree at %#02x", b)
		}
	}
}

// FuzzDecode feeds payloads as they come off the network: decoding keeps
// the length, and re-encoding gives the payload back (µ-law's negative
// zero aside).
func FuzzDecode(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0xFF, 0x7F, 0x00, 0x80, 0xD5, 0x55, 0x2A, 0xAA})
	f.Fuzz(func(t *testing.T, payload []byte) {
		u := DecodeUlaw(payload, nil)
		a := DecodeAlaw(payload, nil)
		if len(u) != len(payload) || len(a) != len(payload) {
			t.Fatalf("decoded %d/%d samples from %d bytes", len(u), len(a), len(payload))
		}
		if got := EncodeAlaw(a, nil); !bytes.Equal(got, payload) {
			t.Fatalf("A-law re-encode %x, want %x", got, payload)
		}
		want := bytes.ReplaceAll(payload, []byte{0x7F}, []byte{0xFF})
		if got := EncodeUlaw(u, nil); !bytes.Equal(got, want) {
			t.Fatalf("µ-law re-encode %x, want %x", got, want)
		}
	})
}

// benchFrame is a 20 ms frame at 8 kHz spread over the whole range.
func benchFrame() []int16 {
	pcm := make([]int16, 160)
	for i := range pcm {
		pcm[i] = int16(math.Sin(float64(i)/7) * 30000)
	}
	return pcm
}

func BenchmarkEncodeUlaw(b *testing.B) {
	pcm, dst := benchFrame(), make([]byte, 0, 160)
	b.SetBytes(int64(len(pcm)))
	for b.Loop() {
		dst = EncodeUlaw(pcm, dst[:0])
	}
}

// BenchmarkEncodeUlawComputed is the table's alternative: the reason the
// table exists.
func BenchmarkEncodeUlawComputed(b *testing.B) {
	pcm, dst := benchFrame(), make([]byte, 160)
	b.SetBytes(int64(len(pcm)))
	for b.Loop() {
		for i, s := range pcm {
			dst[i] = LinearToUlaw(s)
		}
	}
}

func BenchmarkEncodeAlaw(b *testing.B) {
	pcm, dst := benchFrame(), make([]byte, 0, 160)
	b.SetBytes(int64(len(pcm)))
	for b.Loop() {
		dst = EncodeAlaw(pcm, dst[:0])
	}
}

func BenchmarkEncodeAlawComputed(b *testing.B) {
	pcm, dst := benchFrame(), make([]byte, 160)
	b.SetBytes(int64(len(pcm)))
	for b.Loop() {
		for i, s := range pcm {
			dst[i] = LinearToAlaw(s)
		}
	}
}

func BenchmarkDecodeUlaw(b *testing.B) {
	payload := EncodeUlaw(benchFrame(), nil)
	dst := make([]int16, 0, len(payload))
	b.SetBytes(int64(len(payload)))
	for b.Loop() {
		dst = DecodeUlaw(payload, dst[:0])
	}
}

func BenchmarkDecodeAlaw(b *testing.B) {
	payload := EncodeAlaw(benchFrame(), nil)
	dst := make([]int16, 0, len(payload))
	b.SetBytes(int64(len(payload)))
	for b.Loop() {
		dst = DecodeAlaw(payload, dst[:0])
	}
}
