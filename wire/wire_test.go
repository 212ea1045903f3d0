package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func sample() Message {
	return Message{
		Name:  RequestAgentLogin,
		RefID: 42,
		Attrs: KVList{}.
			Add(AttrThisDN, "5320").
			Add(AttrAgentID, "agent1").
			Add(AttrPassword, "secret").
			Add(AttrAgentWorkMode, int64(2)).
			Add("Blob", []byte{0, 1, 2}).
			Add(AttrExtensions, KVList{}.Add(AttrReasonCode, ReasonDRForceLogout).Add("Nested", KVList{}.Add("n", 7))),
	}
}

func TestRoundTrip(t *testing.T) {
	m := sample()
	frame, err := Append(nil, m)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(frame)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, m) {
		t.Fatalf("round trip:\n got %v\nwant %v", got, m)
	}
	got2, err := ReadFrame(bytes.NewReader(frame))
	if err != nil || !reflect.DeepEqual(got2, m) {
		t.Fatalf("ReadFrame: %v %v", got2, err)
	}
	if got.Attrs.List(AttrExtensions).String(AttrReasonCode) != ReasonDRForceLogout {
		t.Fatal("nested lookup failed")
	}
}

// The documented example of docs/protocol.md, byte for byte.
func TestDocumentedExample(t *testing.T) {
	m := Message{Name: "EventAgentLogout", RefID: 0, Attrs: KVList{}.
		Add(AttrThisDN, "5320").
		Add(AttrExtensions, KVList{}.Add(AttrReasonCode, ReasonGracefulShutdownLogout))}
	frame, err := Append(nil, m)
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{'T', 'D', 1, 0, 0, 0, 0, 78,
		16, 'E', 'v', 'e', 'n', 't', 'A', 'g', 'e', 'n', 't', 'L', 'o', 'g', 'o', 'u', 't',
		0, 0, 0, 0,
		0, 2,
		6, 'T', 'h', 'i', 's', 'D', 'N', 2, 0, 0, 0, 4, '5', '3', '2', '0',
		10, 'E', 'x', 't', 'e', 'n', 's', 'i', 'o', 'n', 's', 4, 0, 1,
		10, 'R', 'e', 'a', 's', 'o', 'n', 'C', 'o', 'd', 'e', 2, 0, 0, 0, 24}
	want = append(want, ReasonGracefulShutdownLogout...)
	binary.BigEndian.PutUint32(want[4:], uint32(len(want)-HeaderSize))
	if !bytes.Equal(frame, want) {
		t.Fatalf("frame\n got % x\nwant % x", frame, want)
	}
}

func TestEncodeRejects(t *testing.T) {
	cases := map[string]Message{
		"empty name":  {Name: ""},
		"bad name":    {Name: "Event Agent"},
		"long name":   {Name: strings.Repeat("A", MaxNameLen+1)},
		"bad type":    {Name: "X", Attrs: KVList{{Key: "k", Value: 1.5}}},
		"empty key":   {Name: "X", Attrs: KVList{{Key: "", Value: "v"}}},
		"invalid utf": {Name: "X", Attrs: KVList{{Key: "k", Value: "\xff"}}},
		"too large":   {Name: "X", Attrs: KVList{{Key: "k", Value: make([]byte, MaxFrame)}}},
		"too deep":    {Name: "X", Attrs: deep(MaxDepth)},
	}
	for name, m := range cases {
		if _, err := Append(nil, m); err == nil {
			t.Errorf("%s: encoded without error", name)
		}
	}
	if _, err := Append(nil, Message{Name: "X", Attrs: deep(MaxDepth - 1)}); err != nil {
		t.Errorf("depth %d refused: %v", MaxDepth, err)
	}
}

func deep(n int) KVList {
	l := KVList{}.Add("leaf", "x")
	for i := 0; i < n; i++ {
		l = KVList{}.Add("d", l)
	}
	return l
}

func TestDecodeRejects(t *testing.T) {
	good, _ := Append(nil, sample())
	mutate := func(f func(b []byte) []byte) []byte { return f(append([]byte{}, good...)) }
	cases := map[string][]byte{
		"short":          good[:5],
		"bad magic":      mutate(func(b []byte) []byte { b[0] = 'X'; return b }),
		"bad version":    mutate(func(b []byte) []byte { b[2] = 9; return b }),
		"flags":          mutate(func(b []byte) []byte { b[3] = 1; return b }),
		"length too big": mutate(func(b []byte) []byte { binary.BigEndian.PutUint32(b[4:], MaxFrame); return b }),
		"length short":   mutate(func(b []byte) []byte { binary.BigEndian.PutUint32(b[4:], 2); return b }),
		"truncated": mutate(func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[4:], uint32(len(b)-HeaderSize-1))
			return b[:len(b)-1]
		}),
		"trailing": mutate(func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[4:], uint32(len(b)-HeaderSize+1))
			return append(b, 0)
		}),
		"bad name byte": mutate(func(b []byte) []byte { b[HeaderSize+1] = ' '; return b }),
		"huge count": mutate(func(b []byte) []byte {
			o := HeaderSize + 1 + len(RequestAgentLogin) + 4
			b[o], b[o+1] = 0xFF, 0xFF
			return b
		}),
		"unknown kind": mutate(func(b []byte) []byte {
			o := HeaderSize + 1 + len(RequestAgentLogin) + 4 + 2 + 1 + len(AttrThisDN)
			b[o] = 9
			return b
		}),
	}
	for name, frame := range cases {
		_, err := Decode(frame)
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
	}
	if _, err := ReadFrame(bytes.NewReader(mutate(func(b []byte) []byte { binary.BigEndian.PutUint32(b[4:], 1<<31); return b }))); !errors.Is(err, ErrTooLarge) {
		t.Errorf("ReadFrame of a huge announced length: %v", err)
	}
}

func TestRedacted(t *testing.T) {
	m := sample()
	m.Attrs = m.Attrs.Add("Annex", KVList{}.Add("TServer", KVList{}.Add("password", "sip-secret")))
	s := m.String()
	if strings.Contains(s, "sip-secret") {
		t.Fatalf("SIP password in %s", s)
	}
	if strings.Contains(s, "secret") {
		t.Fatalf("password in %s", s)
	}
	if !strings.Contains(s, "5320") {
		t.Fatalf("DN missing in %s", s)
	}
}

// FuzzDecode: no input panics, allocates beyond the frame, or decodes into
// something that does not encode back to the same bytes.
func FuzzDecode(f *testing.F) {
	good, _ := Append(nil, sample())
	f.Add(good)
	f.Add([]byte("TD\x01\x00\x00\x00\x00\x07\x01X\x00\x00\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, frame []byte) {
		m, err := Decode(frame)
		if err != nil {
			return
		}
		again, err := Append(nil, m)
		if err != nil {
			t.Fatalf("decoded %v does not encode: %v", m, err)
		}
		if !bytes.Equal(again, frame) {
			t.Fatalf("re-encoding differs:\n in % x\nout % x", frame, again)
		}
	})
}

func BenchmarkEncode(b *testing.B) {
	m := sample()
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = Append(buf[:0], m)
	}
}

func BenchmarkDecode(b *testing.B) {
	frame, _ := Append(nil, sample())
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(frame); err != nil {
			b.Fatal(err)
		}
	}
}
