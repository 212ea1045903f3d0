package rtpstream

import (
	"math"
	"testing"
	"time"

	"github.com/pion/rtcp"

	"github.com/tandem-softphone/tandem/media/sdp"
)

func TestRecvStatsLossAndWrap(t *testing.T) {
	var r recvStats
	now := time.Unix(1000, 0)
	seq := uint16(65530)
	for i := range 20 {
		if i%5 != 4 { // every fifth lost
			r.update(7, seq, uint32(i*160), 160, now.Add(time.Duration(i)*20*time.Millisecond), 8000, true)
		}
		seq++
	}
	if r.expected() != 19 || r.lost() != 3 || r.cycles != 1<<16 {
		t.Errorf("expected %d lost %d cycles %d: want 19, 3, one wrap", r.expected(), r.lost(), r.cycles>>16)
	}
	if r.jitter != 0 {
		t.Errorf("jitter %v on a perfectly paced stream", r.jitter)
	}
	rr := r.report(now)
	if rr.SSRC != 7 || rr.TotalLost != 3 || rr.LastSequenceNumber != 1<<16|uint32(seq-2) || rr.FractionLost != uint8(3*256/19) {
		t.Errorf("report %+v", rr)
	}
	// A duplicate makes the count negative in the next interval: fraction 0.
	r.update(7, seq-2, 0, 160, now, 8000, true)
	if rr := r.report(now); rr.FractionLost != 0 || rr.TotalLost != 2 {
		t.Errorf("after a duplicate: %+v", rr)
	}
	// A new SSRC starts over.
	r.update(8, 100, 0, 160, now, 8000, true)
	if r.expected() != 1 || r.lost() != 0 {
		t.Errorf("new source: expected %d lost %d", r.expected(), r.lost())
	}
	// A huge jump restarts the count.
	r.update(8, 30000, 0, 160, now, 8000, true)
	if r.expected() != 1 {
		t.Errorf("after a jump: expected %d", r.expected())
	}
}

func TestRecvStatsJitter(t *testing.T) {
	var r recvStats
	start := time.Unix(1000, 0)
	for i := range 200 {
		late := time.Duration(i%2) * 10 * time.Millisecond // every other packet 10 ms late
		r.update(1, uint16(i), uint32(i*160), 160, start.Add(time.Duration(i)*20*time.Millisecond+late), 8000, true)
	}
	// |D| is 10 ms every time: J converges to 10 ms.
	if j := r.jitterDuration(); j < 9*time.Millisecond || j > 11*time.Millisecond {
		t.Errorf("jitter %v: want about 10 ms", j)
	}
}

func TestRoundTrip(t *testing.T) {
	sent := time.Unix(5000, 0)
	lsr := ntpMiddle(sent)
	// The peer held the report 100 ms; it came back 150 ms after sending.
	rr := rtcp.ReceptionReport{LastSenderReport: lsr, Delay: 65536 / 10}
	rtt := roundTrip(sent.Add(150*time.Millisecond), rr)
	if rtt < 49*time.Millisecond || rtt > 51*time.Millisecond {
		t.Errorf("RTT %v: want 50 ms", rtt)
	}
	if roundTrip(sent, rtcp.ReceptionReport{}) != 0 {
		t.Errorf("RTT without an SR")
	}
	if roundTrip(sent, rtcp.ReceptionReport{LastSenderReport: lsr, Delay: 65536}) != 0 {
		t.Errorf("negative RTT not refused")
	}
}

func TestDTMFReceiveDedupe(t *testing.T) {
	var r dtmfRx
	now := time.Unix(0, 0)
	pkt := func(code byte, end bool, dur uint16) []byte {
		b := []byte{code, 10, byte(dur >> 8), byte(dur)}
		if end {
			b[1] |= 0x80
		}
		return b
	}
	var got []Event
	for _, p := range [][]byte{pkt(3, false, 160), pkt(3, false, 320), pkt(3, true, 800), pkt(3, true, 800), pkt(3, true, 800)} {
		got = append(got, r.packet(1000, p, 8000, now)...)
	}
	if len(got) != 1 || got[0].Digit != '3' || got[0].Duration != 100*time.Millisecond {
		t.Fatalf("events %+v: want one '3' of 100 ms", got)
	}
	// An event whose end packets were lost: reported when the next starts.
	got = r.packet(5000, pkt(11, false, 160), 8000, now)
	got = append(got, r.packet(9000, pkt(12, false, 160), 8000, now)...)
	if len(got) != 1 || got[0].Digit != '#' || got[0].Duration != 20*time.Millisecond {
		t.Fatalf("events %+v: want '#' when the next event starts", got)
	}
	// ... or after a quiet while.
	if evs := r.expire(now.Add(100 * time.Millisecond)); len(evs) != 0 {
		t.Fatalf("expired early: %+v", evs)
	}
	if evs := r.expire(now.Add(time.Second)); len(evs) != 1 || evs[0].Digit != 'A' {
		t.Fatalf("expire: %+v", evs)
	}
	// Truncated payloads and non-DTMF events are ignored.
	if evs := r.packet(20000, []byte{1, 0x80}, 8000, now); evs != nil {
		t.Errorf("truncated payload: %+v", evs)
	}
	if evs := r.packet(30000, pkt(40, true, 160), 8000, now); evs != nil {
		t.Errorf("tone event 40: %+v", evs)
	}
}

func TestEventCodes(t *testing.T) {
	for d, want := range map[rune]uint8{'0': 0, '9': 9, '*': 10, '#': 11, 'A': 12, 'd': 15, '!': 16} {
		if got, ok := eventCode(d); !ok || got != want {
			t.Errorf("eventCode(%c) = %d, %v: want %d", d, got, ok, want)
		}
	}
	if _, ok := eventCode('E'); ok {
		t.Error("eventCode accepted E")
	}
}

func TestResampler(t *testing.T) {
	// A 400 Hz tone at 48 kHz down to 8 kHz and back up keeps its shape.
	in := make([]int16, 960)
	for i := range in {
		in[i] = int16(10000 * math.Sin(2*math.Pi*400*float64(i)/48000))
	}
	down := newResampler(48000, 8000)
	up := newResampler(8000, 48000)
	mid := down.convert(in, nil)
	if len(mid) != 160 {
		t.Fatalf("48 to 8 kHz: %d samples from 960", len(mid))
	}
	out := up.convert(mid, nil)
	if len(out) != 960 {
		t.Fatalf("8 to 48 kHz: %d samples from 160", len(out))
	}
	// Up to the few samples of delay the two filters add, the tone is intact.
	if c := bestCorrelation(in, out, 100, 600, 20); c < 0.99 {
		t.Errorf("correlation after the round trip %.3f", c)
	}
	same := newResampler(8000, 8000)
	if got := same.convert(mid, nil); len(got) != len(mid) || got[5] != mid[5] {
		t.Error("1:1 conversion changed the audio")
	}
}

func TestPTimeFor(t *testing.T) {
	for _, c := range []struct {
		codec sdp.Codec
		want  time.Duration
		got   time.Duration
	}{
		{sdp.PCMU, 30 * time.Millisecond, 30 * time.Millisecond},
		{sdp.PCMU, 25 * time.Millisecond, 20 * time.Millisecond},
		{sdp.Opus, 30 * time.Millisecond, 20 * time.Millisecond},
		{sdp.Opus, 60 * time.Millisecond, 60 * time.Millisecond},
		{sdp.PCMA, 0, 20 * time.Millisecond},
	} {
		if got := ptimeFor(c.codec, c.want); got != c.got {
			t.Errorf("ptimeFor(%v, %v) = %v: want %v", c.codec, c.want, got, c.got)
		}
	}
}

func TestG711Conceal(t *testing.T) {
	impl, err := findCodec(sdp.PCMU)
	if err != nil {
		t.Fatal(err)
	}
	dec, _ := impl.newDecoder(8000)
	enc, _ := impl.newEncoder(8000)
	tone := make([]int16, 160)
	for i := range tone {
		tone[i] = int16(8000 * math.Sin(2*math.Pi*500*float64(i)/8000))
	}
	payload, _ := enc.Encode(tone, nil)
	if pcm, _ := dec.Decode(payload, nil); energy(pcm) < 5000 {
		t.Fatal("decoded silence")
	}
	first := dec.Conceal(nil, 160)
	if energy(first) < 1000 {
		t.Errorf("the first concealed frame is silent: %.0f", energy(first))
	}
	var last []int16
	for range 5 {
		last = dec.Conceal(nil, 160)
	}
	if energy(last) != 0 {
		t.Errorf("long loss does not fade to silence: %.0f", energy(last))
	}
}

func TestSupportedCodecsOrder(t *testing.T) {
	got := SupportedCodecs()
	if len(got) < 2 || !got[0].Same(sdp.PCMU) || !got[1].Same(sdp.PCMA) {
		t.Errorf("SupportedCodecs %v: want PCMU, PCMA first", got)
	}
}
