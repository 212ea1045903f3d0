// Package wav reads and writes 16-bit PCM mono WAV (RIFF) files: test
// audio for the endpoint and recordings of calls. Other formats are
// rejected, not converted.
package wav

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
)

// Errors of Read about the file's contents wrap one of these.
var (
	ErrNotWAV      = errors.New("wav: not a RIFF WAVE file")
	ErrUnsupported = errors.New("wav: unsupported format")
	ErrMalformed   = errors.New("wav: malformed file")
)

const (
	formatPCM        = 1
	formatExtensible = 0xFFFE
	headerSize       = 44
	maxData          = math.MaxUint32 - (headerSize - 8) // the RIFF size must fit 32 bits
)

// KSDATAFORMAT_SUBTYPE_PCM: the sub-format of a WAVE_FORMAT_EXTENSIBLE file
// that holds plain PCM.
var subtypePCM = []byte{1, 0, 0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xAA, 0, 0x38, 0x9B, 0x71}

// Read reads a 16-bit PCM mono WAV file and returns its sample rate and
// samples. Chunks other than "fmt " and "data" are skipped; anything after
// the data chunk is not read.
func Read(r io.Reader) (rate int, samples []int16, err error) {
	var riff [12]byte
	if _, err := io.ReadFull(r, riff[:]); err != nil {
		return 0, nil, fmt.Errorf("%w: %w", ErrNotWAV, err)
	}
	if string(riff[0:4]) != "RIFF" || string(riff[8:12]) != "WAVE" {
		return 0, nil, fmt.Errorf("%w: starts with %q", ErrNotWAV, riff[:])
	}
	for {
		var hdr [8]byte
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return 0, nil, fmt.Errorf("%w: no data chunk: %w", ErrMalformed, err)
		}
		id, size := string(hdr[0:4]), int64(binary.LittleEndian.Uint32(hdr[4:8]))
		switch id {
		case "fmt ":
			if rate != 0 {
				return 0, nil, fmt.Errorf("%w: second fmt chunk", ErrMalformed)
			}
			if rate, err = readFormat(r, size); err != nil {
				return 0, nil, err
			}
		case "data":
			if rate == 0 {
				return 0, nil, fmt.Errorf("%w: data chunk before fmt chunk", ErrMalformed)
			}
			if size%2 != 0 {
				return 0, nil, fmt.Errorf("%w: data chunk of %d bytes is not whole 16-bit samples", ErrMalformed, size)
			}
			// ReadAll grows with what arrives: a lying size costs no memory.
			data, err := io.ReadAll(io.LimitReader(r, size))
			if err != nil {
				return 0, nil, fmt.Errorf("wav: read data: %w", err)
			}
			if int64(len(data)) < size {
				return 0, nil, fmt.Errorf("%w: data chunk truncated: %d of %d bytes", ErrMalformed, len(data), size)
			}
			samples = make([]int16, len(data)/2)
			for i := range samples {
				samples[i] = int16(binary.LittleEndian.Uint16(data[2*i:]))
			}
			return rate, samples, nil
		default:
			if err := skip(r, size+size%2); err != nil { // chunks are padded to even sizes
				return 0, nil, fmt.Errorf("%w: %q chunk truncated: %w", ErrMalformed, id, err)
			}
		}
	}
}

// readFormat checks a fmt chunk of size bytes and returns the sample rate.
func readFormat(r io.Reader, size int64) (int, error) {
	if size < 16 {
		return 0, fmt.Errorf("%w: fmt chunk of %d bytes, want at least 16", ErrMalformed, size)
	}
	f := make([]byte, min(size, 40)) // 40 holds the extensible format
	if _, err := io.ReadFull(r, f); err != nil {
		return 0, fmt.Errorf("%w: fmt chunk truncated: %w", ErrMalformed, err)
	}
	if err := skip(r, size-int64(len(f))+size%2); err != nil {
		return 0, fmt.Errorf("%w: fmt chunk truncated: %w", ErrMalformed, err)
	}
	le := binary.LittleEndian
	tag, channels := le.Uint16(f[0:]), le.Uint16(f[2:])
	rate, byteRate := le.Uint32(f[4:]), le.Uint32(f[8:])
	blockAlign, bits := le.Uint16(f[12:]), le.Uint16(f[14:])

	if tag == formatExtensible {
		if len(f) < 40 || le.Uint16(f[16:]) < 22 {
			return 0, fmt.Errorf("%w: extensible fmt chunk of %d bytes, want 40", ErrMalformed, size)
		}
		if !bytes.Equal(f[24:40], subtypePCM) {
			return 0, fmt.Errorf("%w: extensible sub-format %x, want PCM", ErrUnsupported, f[24:40])
		}
		if valid := le.Uint16(f[18:]); valid != 16 {
			return 0, fmt.Errorf("%w: %d valid bits per sample, want 16", ErrUnsupported, valid)
		}
		tag = formatPCM
	}
	switch {
	case tag != formatPCM:
		return 0, fmt.Errorf("%w: format tag %#04x, want PCM (1)", ErrUnsupported, tag)
	case channels != 1:
		return 0, fmt.Errorf("%w: %d channels, want mono", ErrUnsupported, channels)
	case bits != 16:
		return 0, fmt.Errorf("%w: %d bits per sample, want 16", ErrUnsupported, bits)
	case rate == 0 || rate > math.MaxInt32/2:
		return 0, fmt.Errorf("%w: sample rate %d Hz", ErrMalformed, rate)
	case blockAlign != 2 || byteRate != 2*rate:
		return 0, fmt.Errorf("%w: block align %d and byte rate %d do not match 16-bit mono at %d Hz", ErrMalformed, blockAlign, byteRate, rate)
	}
	return int(rate), nil
}

func skip(r io.Reader, n int64) error {
	got, err := io.CopyN(io.Discard, r, n)
	if got == n {
		return nil
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// ReadFile reads the 16-bit PCM mono WAV file name.
func ReadFile(name string) (rate int, samples []int16, err error) {
	f, err := os.Open(name)
	if err != nil {
		return 0, nil, err
	}
	defer f.Close()
	rate, samples, err = Read(f)
	if err != nil {
		return 0, nil, fmt.Errorf("%s: %w", name, err)
	}
	return rate, samples, nil
}

// Writer writes a 16-bit PCM mono WAV file as the samples come; Close
// fills in the sizes in the header.
type Writer struct {
	w      io.WriteSeeker
	file   *os.File // closed by Close when the Writer created it
	start  int64    // where the header begins in w
	data   int64    // bytes of samples written
	buf    []byte
	err    error // the first error: the file is unusable after it
	closed bool
}

var errClosed = errors.New("wav: writer closed")

// NewWriter writes a header for rate samples per second at w's current
// position. Close does not close w.
func NewWriter(w io.WriteSeeker, rate int) (*Writer, error) {
	if err := checkRate(rate); err != nil {
		return nil, err
	}
	start, err := w.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil, fmt.Errorf("wav: find header position: %w", err)
	}
	h := make([]byte, 0, headerSize)
	le := binary.LittleEndian
	h = append(h, "RIFF"...)
	h = le.AppendUint32(h, 0) // filled in by Close
	h = append(h, "WAVEfmt "...)
	h = le.AppendUint32(h, 16)
	h = le.AppendUint16(h, formatPCM)
	h = le.AppendUint16(h, 1) // mono
	h = le.AppendUint32(h, uint32(rate))
	h = le.AppendUint32(h, uint32(2*rate))
	h = le.AppendUint16(h, 2)  // block align
	h = le.AppendUint16(h, 16) // bits per sample
	h = append(h, "data"...)
	h = le.AppendUint32(h, 0) // filled in by Close
	if _, err := w.Write(h); err != nil {
		return nil, fmt.Errorf("wav: write header: %w", err)
	}
	return &Writer{w: w, start: start}, nil
}

func checkRate(rate int) error {
	if rate <= 0 || rate > math.MaxInt32/2 {
		return fmt.Errorf("wav: sample rate %d Hz out of range", rate)
	}
	return nil
}

// Create creates the file name and returns a Writer for it; Close closes
// the file.
func Create(name string, rate int) (*Writer, error) {
	if err := checkRate(rate); err != nil {
		return nil, err
	}
	f, err := os.Create(name)
	if err != nil {
		return nil, err
	}
	w, err := NewWriter(f, rate)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	w.file = f
	return w, nil
}

// Write appends samples.
func (w *Writer) Write(samples []int16) error {
	if w.closed {
		return errClosed
	}
	if w.err != nil {
		return w.err
	}
	if w.data+2*int64(len(samples)) > maxData {
		w.err = errors.New("wav: recording exceeds the 4 GiB a WAV file can hold")
		return w.err
	}
	w.buf = w.buf[:0]
	for _, s := range samples {
		w.buf = binary.LittleEndian.AppendUint16(w.buf, uint16(s))
	}
	n, err := w.w.Write(w.buf)
	w.data += int64(n)
	if err != nil {
		w.err = fmt.Errorf("wav: write samples: %w", err)
	}
	return w.err
}

// Close writes the sizes into the header and leaves the position at the
// end of the file; it closes the file if Create opened it.
func (w *Writer) Close() error {
	if w.closed {
		return errClosed
	}
	w.closed = true
	err := w.err
	if err == nil {
		err = w.patch(4, uint32(w.data+headerSize-8))
	}
	if err == nil {
		err = w.patch(40, uint32(w.data))
	}
	if err == nil {
		if _, err = w.w.Seek(w.start+headerSize+w.data, io.SeekStart); err != nil {
			err = fmt.Errorf("wav: seek to end: %w", err)
		}
	}
	if w.file != nil {
		err = errors.Join(err, w.file.Close())
	}
	return err
}

func (w *Writer) patch(off int64, v uint32) error {
	if _, err := w.w.Seek(w.start+off, io.SeekStart); err != nil {
		return fmt.Errorf("wav: seek to header: %w", err)
	}
	if _, err := w.w.Write(binary.LittleEndian.AppendUint32(nil, v)); err != nil {
		return fmt.Errorf("wav: write header size: %w", err)
	}
	return nil
}

// WriteFile writes samples at rate to the file name.
func WriteFile(name string, rate int, samples []int16) error {
	w, err := Create(name, rate)
	if err != nil {
		return err
	}
	if err := w.Write(samples); err != nil {
		w.Close()
		return fmt.Errorf("%s: %w", name, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}
