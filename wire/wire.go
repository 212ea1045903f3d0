// Package wire encodes and decodes the frames of Tandem's site-services
// protocol, the open protocol that the desktop speaks with the T-Server,
// the Config Server Proxy and the Stat Server. The byte layout is documented
// in docs/protocol.md; the message and attribute names follow T-Lib's.
package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// Frame header layout: magic "TD", version, flags, payload length.
const (
	Magic0        = 'T'
	Magic1        = 'D'
	Version       = 1
	HeaderSize    = 8
	MaxFrame      = 256 << 10 // header included; larger frames are refused unread
	MaxNameLen    = 64
	MaxDepth      = 8 // nesting of KVLists
	maxPayload    = MaxFrame - HeaderSize
	minEntrySize  = 1 + 1 + 1 + 2 // key length, 1-byte key, kind, smallest value (empty list)
	payloadHeader = 1 + 4         // name length + ReferenceID (name bytes follow the length)
)

// ErrMalformed is wrapped by every decoding error caused by the bytes received.
var ErrMalformed = errors.New("malformed frame")

// ErrTooLarge is returned for a frame whose announced or encoded size exceeds MaxFrame.
var ErrTooLarge = errors.New("frame exceeds maximum size")

// Message is one protocol message: a request, its answer, or an unsolicited event.
type Message struct {
	Name  string // e.g. RequestAgentLogin, EventAgentLogout
	RefID uint32 // ReferenceID: an answer carries its request's; unsolicited events carry 0
	Attrs KVList
}

func (m Message) String() string {
	return fmt.Sprintf("%s ref=%d %v", m.Name, m.RefID, m.Attrs.Redacted())
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// Append encodes m as one frame appended to dst.
func Append(dst []byte, m Message) ([]byte, error) {
	if err := checkName(m.Name); err != nil {
		return dst, fmt.Errorf("encode %q: %w", m.Name, err)
	}
	start := len(dst)
	dst = append(dst, Magic0, Magic1, Version, 0, 0, 0, 0, 0)
	dst = append(dst, byte(len(m.Name)))
	dst = append(dst, m.Name...)
	dst = binary.BigEndian.AppendUint32(dst, m.RefID)
	dst, err := appendList(dst, m.Attrs, 1)
	if err != nil {
		return dst[:start], fmt.Errorf("encode %s: %w", m.Name, err)
	}
	n := len(dst) - start
	if n > MaxFrame {
		return dst[:start], fmt.Errorf("encode %s: %d bytes: %w", m.Name, n, ErrTooLarge)
	}
	binary.BigEndian.PutUint32(dst[start+4:], uint32(n-HeaderSize))
	return dst, nil
}

func checkName(name string) error {
	if len(name) == 0 || len(name) > MaxNameLen {
		return fmt.Errorf("message name length %d not in 1..%d", len(name), MaxNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return fmt.Errorf("message name has byte 0x%02x", c)
		}
	}
	return nil
}

func appendList(dst []byte, l KVList, depth int) ([]byte, error) {
	if depth > MaxDepth {
		return dst, fmt.Errorf("lists nested deeper than %d", MaxDepth)
	}
	if len(l) > 0xFFFF {
		return dst, fmt.Errorf("list of %d pairs exceeds 65535", len(l))
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(l)))
	for _, p := range l {
		if len(p.Key) == 0 || len(p.Key) > 255 || !utf8.ValidString(p.Key) {
			return dst, fmt.Errorf("key %q: must be 1..255 bytes of UTF-8", p.Key)
		}
		dst = append(dst, byte(len(p.Key)))
		dst = append(dst, p.Key...)
		var err error
		switch v := p.Value.(type) {
		case int64:
			dst = append(dst, byte(KindInt))
			dst = binary.BigEndian.AppendUint64(dst, uint64(v))
		case int:
			dst = append(dst, byte(KindInt))
			dst = binary.BigEndian.AppendUint64(dst, uint64(int64(v)))
		case string:
			if !utf8.ValidString(v) {
				return dst, fmt.Errorf("key %s: string is not UTF-8", p.Key)
			}
			if len(v) > maxPayload {
				return dst, fmt.Errorf("key %s: %w", p.Key, ErrTooLarge)
			}
			dst = append(dst, byte(KindString))
			dst = binary.BigEndian.AppendUint32(dst, uint32(len(v)))
			dst = append(dst, v...)
		case []byte:
			if len(v) > maxPayload {
				return dst, fmt.Errorf("key %s: %w", p.Key, ErrTooLarge)
			}
			dst = append(dst, byte(KindBytes))
			dst = binary.BigEndian.AppendUint32(dst, uint32(len(v)))
			dst = append(dst, v...)
		case KVList:
			dst = append(dst, byte(KindList))
			dst, err = appendList(dst, v, depth+1)
		default:
			err = fmt.Errorf("key %s: unsupported value type %T", p.Key, p.Value)
		}
		if err != nil {
			return dst, err
		}
	}
	return dst, nil
}

// ReadFrame reads one whole frame from r and decodes it. The announced length
// is checked against MaxFrame before anything is allocated for the payload.
// An io.EOF before the first byte is returned as is.
func ReadFrame(r io.Reader) (Message, error) {
	var hdr [HeaderSize]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return Message{}, fmt.Errorf("read header: %w", err)
		}
		return Message{}, err
	}
	n, err := checkHeader(hdr[:])
	if err != nil {
		return Message{}, err
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return Message{}, fmt.Errorf("read payload of %d bytes: %w", n, err)
	}
	return DecodePayload(payload)
}

func checkHeader(hdr []byte) (int, error) {
	if hdr[0] != Magic0 || hdr[1] != Magic1 {
		return 0, malformed("bad magic 0x%02x%02x", hdr[0], hdr[1])
	}
	if hdr[2] != Version {
		return 0, malformed("unsupported frame version %d", hdr[2])
	}
	if hdr[3] != 0 {
		return 0, malformed("reserved flags 0x%02x set", hdr[3])
	}
	n := binary.BigEndian.Uint32(hdr[4:])
	if n > maxPayload {
		return 0, fmt.Errorf("%w: payload of %d bytes announced (%w)", ErrMalformed, n, ErrTooLarge)
	}
	if n < payloadHeader+1+2 {
		return 0, malformed("payload of %d bytes is too short", n)
	}
	return int(n), nil
}

// Decode decodes exactly one whole frame, header included.
func Decode(frame []byte) (Message, error) {
	if len(frame) < HeaderSize {
		return Message{}, malformed("%d bytes is shorter than a header", len(frame))
	}
	n, err := checkHeader(frame[:HeaderSize])
	if err != nil {
		return Message{}, err
	}
	if len(frame)-HeaderSize != n {
		return Message{}, malformed("header announces %d payload bytes, frame has %d", n, len(frame)-HeaderSize)
	}
	return DecodePayload(frame[HeaderSize:])
}

// DecodePayload decodes a frame's payload: name, ReferenceID and attributes.
// All of p must be consumed.
func DecodePayload(p []byte) (Message, error) {
	d := decoder{b: p}
	nl := int(d.u8())
	name := d.take(nl)
	if d.err != nil {
		return Message{}, d.err
	}
	if err := checkName(string(name)); err != nil {
		return Message{}, malformed("%v", err)
	}
	m := Message{Name: string(name), RefID: d.u32()}
	m.Attrs = d.list(1)
	if d.err != nil {
		return Message{}, fmt.Errorf("decode %s: %w", m.Name, d.err)
	}
	if len(d.b) != 0 {
		return Message{}, malformed("decode %s: %d trailing bytes", m.Name, len(d.b))
	}
	return m, nil
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = malformed(format, args...)
	}
	d.b = nil
}

func (d *decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.b) {
		d.fail("need %d bytes, %d left", n, len(d.b))
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) u8() uint8 {
	b := d.take(1)
	if b == nil {
		return 0
	}
	return b[0]
}

func (d *decoder) u16() uint16 {
	b := d.take(2)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint16(b)
}

func (d *decoder) u32() uint32 {
	b := d.take(4)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint32(b)
}

func (d *decoder) list(depth int) KVList {
	if depth > MaxDepth {
		d.fail("lists nested deeper than %d", MaxDepth)
		return nil
	}
	count := int(d.u16())
	if d.err != nil {
		return nil
	}
	if count > len(d.b)/minEntrySize {
		d.fail("%d pairs announced in %d bytes", count, len(d.b))
		return nil
	}
	l := make(KVList, 0, count)
	for i := 0; i < count && d.err == nil; i++ {
		kl := int(d.u8())
		if kl == 0 && d.err == nil {
			d.fail("empty key")
			break
		}
		key := d.take(kl)
		if d.err == nil && !utf8.Valid(key) {
			d.fail("key is not UTF-8")
		}
		kind := Kind(d.u8())
		if d.err != nil {
			break
		}
		var v any
		switch kind {
		case KindInt:
			if b := d.take(8); b != nil {
				v = int64(binary.BigEndian.Uint64(b))
			}
		case KindString:
			s := d.take(int(d.u32()))
			if d.err == nil && !utf8.Valid(s) {
				d.fail("value of %s is not UTF-8", key)
			}
			v = string(s)
		case KindBytes:
			b := d.take(int(d.u32()))
			v = append([]byte{}, b...)
		case KindList:
			v = d.list(depth + 1)
		default:
			d.fail("key %q has unknown kind %d", key, kind)
		}
		if d.err == nil {
			l = append(l, Pair{Key: string(key), Value: v})
		}
	}
	if d.err != nil {
		return nil
	}
	return l
}
