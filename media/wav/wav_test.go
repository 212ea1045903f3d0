package wav

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// memFile is an in-memory io.WriteSeeker.
type memFile struct {
	b   []byte
	pos int64
}

func (m *memFile) Write(p []byte) (int, error) {
	if end := m.pos + int64(len(p)); end > int64(len(m.b)) {
		m.b = append(m.b, make([]byte, end-int64(len(m.b)))...)
	}
	copy(m.b[m.pos:], p)
	m.pos += int64(len(p))
	return len(p), nil
}

func (m *memFile) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		off += m.pos
	case io.SeekEnd:
		off += int64(len(m.b))
	}
	if off < 0 {
		return 0, errors.New("negative position")
	}
	m.pos = off
	return off, nil
}

// failing accepts limit bytes, then fails every write and seek.
type failing struct {
	memFile
	limit int
}

var errDisk = errors.New("disk full")

func (f *failing) Write(p []byte) (int, error) {
	if len(f.b)+len(p) > f.limit {
		return 0, errDisk
	}
	return f.memFile.Write(p)
}

func (f *failing) Seek(off int64, whence int) (int64, error) {
	if len(f.b) >= f.limit {
		return 0, errDisk
	}
	return f.memFile.Seek(off, whence)
}

// The canonical 44-byte header, written out byte by byte.
func header(rate, dataBytes uint32) []byte {
	le := binary.LittleEndian
	h := []byte("RIFF")
	h = le.AppendUint32(h, 36+dataBytes)
	h = append(h, "WAVEfmt "...)
	h = append(h, 16, 0, 0, 0, 1, 0, 1, 0)
	h = le.AppendUint32(h, rate)
	h = le.AppendUint32(h, 2*rate)
	h = append(h, 2, 0, 16, 0)
	h = append(h, "data"...)
	return le.AppendUint32(h, dataBytes)
}

func TestWriterRoundTrip(t *testing.T) {
	f := &memFile{b: []byte("prefix")} // the file need not start at 0
	f.pos = 6
	w, err := NewWriter(f, 16000)
	if err != nil {
		t.Fatal(err)
	}
	samples := []int16{0, 1, -1, 32767, -32768, 1234}
	for _, part := range [][]int16{samples[:2], nil, samples[2:]} {
		if err := w.Write(part); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	want := append([]byte("prefix"), header(16000, 12)...)
	want = append(want, 0, 0, 1, 0, 0xFF, 0xFF, 0xFF, 0x7F, 0x00, 0x80, 0xD2, 0x04)
	if !bytes.Equal(f.b, want) {
		t.Fatalf("wrote\n%x\nwant\n%x", f.b, want)
	}
	if f.pos != int64(len(want)) {
		t.Errorf("position after Close %d, want the end (%d)", f.pos, len(want))
	}
	rate, got, err := Read(bytes.NewReader(f.b[6:]))
	if err != nil || rate != 16000 || !slices.Equal(got, samples) {
		t.Errorf("read back %d Hz %v, %v; want 16000 Hz %v", rate, got, err, samples)
	}
	if err := w.Write(samples); err == nil {
		t.Error("Write after Close succeeded")
	}
	if err := w.Close(); err == nil {
		t.Error("second Close succeeded")
	}
}

func TestFiles(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "a.wav")
	samples := []int16{5, -5, 300}
	if err := WriteFile(name, 8000, samples); err != nil {
		t.Fatal(err)
	}
	rate, got, err := ReadFile(name)
	if err != nil || rate != 8000 || !slices.Equal(got, samples) {
		t.Errorf("ReadFile = %d, %v, %v", rate, got, err)
	}

	if _, err := Create(filepath.Join(dir, "b.wav"), 0); err == nil {
		t.Error("Create with rate 0 succeeded")
	}
	if _, _, err := ReadFile(filepath.Join(dir, "b.wav")); err == nil {
		t.Error("a file was left behind by the failed Create, or ReadFile read nothing")
	}
	if err := WriteFile(filepath.Join(dir, "no", "such", "dir.wav"), 8000, samples); err == nil {
		t.Error("WriteFile into a missing directory succeeded")
	}
	bad := filepath.Join(dir, "bad.wav")
	if err := WriteFile(bad, 8000, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ReadFile(bad); err != nil {
		t.Errorf("empty recording: %v, want no error", err)
	}
}

func TestWriterErrors(t *testing.T) {
	if _, err := NewWriter(&memFile{}, -8000); err == nil {
		t.Error("negative rate accepted")
	}
	if _, err := NewWriter(&failing{limit: 10}, 8000); !errors.Is(err, errDisk) {
		t.Errorf("header write error: %v, want %v", err, errDisk)
	}
	w, err := NewWriter(&failing{limit: headerSize + 4}, 8000)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write([]int16{1, 2}); err != nil {
		t.Fatal(err)
	}
	if err := w.Write([]int16{3}); !errors.Is(err, errDisk) {
		t.Errorf("Write on a full disk: %v, want %v", err, errDisk)
	}
	if err := w.Write([]int16{4}); !errors.Is(err, errDisk) {
		t.Errorf("Write after a failed one: %v, want the first error", err)
	}
	if err := w.Close(); !errors.Is(err, errDisk) {
		t.Errorf("Close after a failed write: %v, want %v", err, errDisk)
	}

	// A full disk shows at Close when the header is patched.
	w, err = NewWriter(&failing{limit: headerSize + 2}, 8000)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write([]int16{1}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); !errors.Is(err, errDisk) {
		t.Errorf("Close on a full disk: %v, want %v", err, errDisk)
	}

	w, err = NewWriter(&memFile{}, 8000)
	if err != nil {
		t.Fatal(err)
	}
	w.data = maxData - 2
	if err := w.Write([]int16{1, 2}); err == nil || !strings.Contains(err.Error(), "4 GiB") {
		t.Errorf("write beyond 4 GiB: %v", err)
	}
}

// A file written by Python's wave module, an independent writer:
// 400 samples of (i*37 mod 2000) - 1000 at 8 kHz.
func TestReadPythonWave(t *testing.T) {
	rate, got, err := ReadFile("testdata/python_wave_8k.wav")
	if err != nil {
		t.Fatal(err)
	}
	if rate != 8000 || len(got) != 400 {
		t.Fatalf("%d Hz, %d samples; want 8000 Hz, 400", rate, len(got))
	}
	for i, s := range got {
		if want := int16(i*37%2000 - 1000); s != want {
			t.Fatalf("sample %d = %d, want %d", i, s, want)
		}
	}
}

func chunk(id string, body []byte) []byte {
	c := append([]byte(id), binary.LittleEndian.AppendUint32(nil, uint32(len(body)))...)
	c = append(c, body...)
	if len(body)%2 == 1 {
		c = append(c, 0)
	}
	return c
}

func riff(chunks ...[]byte) []byte {
	body := append([]byte("WAVE"), bytes.Join(chunks, nil)...)
	return append(append([]byte("RIFF"), binary.LittleEndian.AppendUint32(nil, uint32(len(body)))...), body...)
}

// fmtBody is a fmt chunk body: tag, channels, rate, byte rate, block
// align, bits, then any extension.
func fmtBody(tag, channels uint16, rate, byteRate uint32, align, bits uint16, ext ...byte) []byte {
	le := binary.LittleEndian
	b := le.AppendUint16(nil, tag)
	b = le.AppendUint16(b, channels)
	b = le.AppendUint32(b, rate)
	b = le.AppendUint32(b, byteRate)
	b = le.AppendUint16(b, align)
	b = le.AppendUint16(b, bits)
	return append(b, ext...)
}

var (
	pcm8k     = fmtBody(1, 1, 8000, 16000, 2, 16)
	data3     = chunk("data", []byte{1, 0, 2, 0, 0xFF, 0xFF})
	extPCM    = append([]byte{22, 0, 16, 0, 4, 0, 0, 0}, subtypePCM...) // cbSize, valid bits, channel mask, sub-format
	extFloat  = append([]byte{22, 0, 16, 0, 4, 0, 0, 0}, append([]byte{3}, subtypePCM[1:]...)...)
	ext24bits = append([]byte{22, 0, 24, 0, 4, 0, 0, 0}, subtypePCM...)
)

func TestReadAcceptsVariants(t *testing.T) {
	cases := map[string][]byte{
		"plain":                     riff(chunk("fmt ", pcm8k), data3),
		"fmt with cbSize 0":         riff(chunk("fmt ", append(slices.Clone(pcm8k), 0, 0)), data3),
		"extensible PCM":            riff(chunk("fmt ", fmtBody(0xFFFE, 1, 8000, 16000, 2, 16, extPCM...)), data3),
		"odd LIST chunk, padded":    riff(chunk("LIST", []byte("INFOx")), chunk("fmt ", pcm8k), chunk("fact", []byte{3, 0, 0, 0}), data3),
		"trailing chunk after":      riff(chunk("fmt ", pcm8k), data3, chunk("LIST", []byte("junk"))),
		"RIFF size wrong (ignored)": append([]byte("RIFF\xff\xff\xff\xffWAVE"), append(chunk("fmt ", pcm8k), data3...)...),
	}
	for name, file := range cases {
		rate, got, err := Read(bytes.NewReader(file))
		if err != nil || rate != 8000 || !slices.Equal(got, []int16{1, 2, -1}) {
			t.Errorf("%s: %d Hz, %v, %v; want 8000 Hz [1 2 -1]", name, rate, got, err)
		}
	}
}

func TestReadRejects(t *testing.T) {
	cases := []struct {
		name string
		file []byte
		want error
		msg  string
	}{
		{"empty", nil, ErrNotWAV, "EOF"},
		{"RIFX", append([]byte("RIFX\x00\x00\x00\x00WAVE"), chunk("fmt ", pcm8k)...), ErrNotWAV, "RIFX"},
		{"AVI", []byte("RIFF\x00\x00\x00\x00AVI "), ErrNotWAV, "AVI"},
		{"no chunks", riff(), ErrMalformed, "no data chunk"},
		{"no data", riff(chunk("fmt ", pcm8k)), ErrMalformed, "no data chunk"},
		{"data first", riff(data3, chunk("fmt ", pcm8k)), ErrMalformed, "before fmt"},
		{"two fmt", riff(chunk("fmt ", pcm8k), chunk("fmt ", pcm8k), data3), ErrMalformed, "second fmt"},
		{"short fmt", riff(chunk("fmt ", pcm8k[:14]), data3), ErrMalformed, "14 bytes"},
		{"truncated fmt", riff(chunk("fmt ", pcm8k))[:30], ErrMalformed, "fmt chunk truncated"},
		{"truncated fmt extension", riff(chunk("fmt ", append(slices.Clone(pcm8k), make([]byte, 40)...)))[:60], ErrMalformed, "fmt chunk truncated"},
		{"stereo", riff(chunk("fmt ", fmtBody(1, 2, 8000, 32000, 4, 16)), data3), ErrUnsupported, "2 channels"},
		{"8 bit", riff(chunk("fmt ", fmtBody(1, 1, 8000, 8000, 1, 8)), data3), ErrUnsupported, "8 bits"},
		{"A-law", riff(chunk("fmt ", fmtBody(6, 1, 8000, 8000, 1, 8)), data3), ErrUnsupported, "0x0006"},
		{"float", riff(chunk("fmt ", fmtBody(3, 1, 8000, 32000, 4, 32)), data3), ErrUnsupported, "0x0003"},
		{"extensible float", riff(chunk("fmt ", fmtBody(0xFFFE, 1, 8000, 16000, 2, 16, extFloat...)), data3), ErrUnsupported, "sub-format"},
		{"extensible 24 bit", riff(chunk("fmt ", fmtBody(0xFFFE, 1, 8000, 16000, 2, 16, ext24bits...)), data3), ErrUnsupported, "24 valid bits"},
		{"extensible too short", riff(chunk("fmt ", fmtBody(0xFFFE, 1, 8000, 16000, 2, 16, 0, 0)), data3), ErrMalformed, "want 40"},
		{"rate 0", riff(chunk("fmt ", fmtBody(1, 1, 0, 0, 2, 16)), data3), ErrMalformed, "sample rate 0"},
		{"byte rate", riff(chunk("fmt ", fmtBody(1, 1, 8000, 8000, 2, 16)), data3), ErrMalformed, "byte rate 8000"},
		{"block align", riff(chunk("fmt ", fmtBody(1, 1, 8000, 16000, 4, 16)), data3), ErrMalformed, "block align 4"},
		{"odd data", riff(chunk("fmt ", pcm8k), chunk("data", []byte{1, 2, 3})), ErrMalformed, "3 bytes"},
		{"truncated data", riff(chunk("fmt ", pcm8k), data3)[:len(riff(chunk("fmt ", pcm8k), data3))-2], ErrMalformed, "4 of 6 bytes"},
		{"lying data size", append(riff(chunk("fmt ", pcm8k)), "data\xfe\xff\xff\x7f\x01\x00"...), ErrMalformed, "2 of 2147483646 bytes"},
		{"truncated LIST", riff(chunk("fmt ", pcm8k), chunk("LIST", make([]byte, 20)))[:50], ErrMalformed, `"LIST" chunk truncated`},
	}
	for _, c := range cases {
		_, _, err := Read(bytes.NewReader(c.file))
		if !errors.Is(err, c.want) || err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: error %v, want %v mentioning %q", c.name, err, c.want, c.msg)
		}
	}
}

// FuzzReadWAV feeds arbitrary files to Read: it never panics, every error
// says what is wrong with the file, and whatever it accepts writes back
// and reads again to the same audio.
func FuzzReadWAV(f *testing.F) {
	f.Fuzz(func(t *testing.T, file []byte) {
		rate, samples, err := Read(bytes.NewReader(file))
		if err != nil {
			if !errors.Is(err, ErrNotWAV) && !errors.Is(err, ErrUnsupported) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		m := &memFile{}
		w, err := NewWriter(m, rate)
		if err != nil {
			t.Fatalf("accepted rate %d cannot be written: %v", rate, err)
		}
		if err := w.Write(samples); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		rate2, samples2, err := Read(bytes.NewReader(m.b))
		if err != nil || rate2 != rate || !slices.Equal(samples2, samples) {
			t.Fatalf("round trip: %d Hz %d samples (%v), want %d Hz %d samples", rate2, len(samples2), err, rate, len(samples))
		}
	})
}
