package jitter_test

import (
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/tandem-softphone/tandem/media/jitter"
)

const frame = 20 * time.Millisecond

var t0 = time.Unix(1_700_000_000, 0)

// arrival is one packet as the network delivers it.
type arrival struct {
	seq  uint16
	ts   uint32
	ssrc uint32
	at   time.Duration // since t0
}

// sendStream makes n packets of 20 ms at 8 kHz sent every 20 ms from
// start, each delayed by delay(i) (nil: 5 ms), then ordered by arrival.
func sendStream(n int, seq0 uint16, ts0, ssrc uint32, start time.Duration, delay func(i int) time.Duration) []arrival {
	out := make([]arrival, 0, n)
	for i := range n {
		d := 5 * time.Millisecond
		if delay != nil {
			d = delay(i)
		}
		out = append(out, arrival{
			seq:  seq0 + uint16(i),
			ts:   ts0 + uint32(i)*160,
			ssrc: ssrc,
			at:   start + time.Duration(i)*frame + d,
		})
	}
	slices.SortStableFunc(out, func(a, b arrival) int { return int(a.at - b.at) })
	return out
}

// pop is one playout tick.
type pop struct {
	seq      int // -1 when no packet
	lost, ok bool
	depth    time.Duration
	target   time.Duration
	ssrc     uint32
	at       time.Duration // tick, since t0
}

// playout pushes every packet at its arrival time and pops every 20 ms
// from t0 to until; a push at the same instant as a pop goes first.
func playout(t *testing.T, b *jitter.Buffer, pkts []arrival, until time.Duration) []pop {
	t.Helper()
	var out []pop
	i := 0
	for tick := time.Duration(0); tick <= until; tick += frame {
		for ; i < len(pkts) && pkts[i].at <= tick; i++ {
			a := pkts[i]
			b.Push(&rtp.Packet{Header: rtp.Header{
				Version: 2, PayloadType: 0, SequenceNumber: a.seq, Timestamp: a.ts, SSRC: a.ssrc,
			}, Payload: make([]byte, 160)}, t0.Add(a.at))
		}
		pkt, lost, ok := b.Pop(t0.Add(tick))
		st := b.Stats()
		if st.Depth > 200*time.Millisecond {
			t.Fatalf("at %v depth %v exceeds the 200 ms cap", tick, st.Depth)
		}
		p := pop{seq: -1, lost: lost, ok: ok, depth: st.Depth, target: st.Target, at: tick}
		if pkt != nil {
			p.seq, p.ssrc = int(pkt.SequenceNumber), pkt.SSRC
		}
		out = append(out, p)
	}
	if i < len(pkts) {
		t.Fatalf("playout ended with %d packets not yet delivered", len(pkts)-i)
	}
	return out
}

// trace renders pops from the first played packet to the last: the
// sequence number, L for a frame to conceal, - for silence.
func trace(pops []pop) string {
	var toks []string
	for _, p := range pops {
		switch {
		case p.seq >= 0:
			toks = append(toks, strconv.Itoa(p.seq))
		case p.lost:
			toks = append(toks, "L")
		default:
			toks = append(toks, "-")
		}
	}
	first := slices.IndexFunc(toks, func(s string) bool { return s != "L" && s != "-" })
	last := len(toks) - 1
	for last >= 0 && (toks[last] == "L" || toks[last] == "-") {
		last--
	}
	if first < 0 {
		return ""
	}
	return strings.Join(toks[first:last+1], " ")
}

// seqs renders n sequence numbers from seq0 (wrapping like RTP).
func seqs(seq0 uint16, n int) string {
	toks := make([]string, n)
	for i := range toks {
		toks[i] = strconv.Itoa(int(seq0 + uint16(i)))
	}
	return strings.Join(toks, " ")
}

func played(pops []pop) []int {
	var out []int
	for _, p := range pops {
		if p.seq >= 0 {
			out = append(out, p.seq)
		}
	}
	return out
}

func newBuffer(t testing.TB) *jitter.Buffer {
	t.Helper()
	b, err := jitter.New(jitter.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func without(pkts []arrival, drop ...uint16) []arrival {
	return slices.DeleteFunc(pkts, func(a arrival) bool { return slices.Contains(drop, a.seq) })
}

func TestInOrder(t *testing.T) {
	b := newBuffer(t)
	pops := playout(t, b, sendStream(50, 0, 1000, 1, 0, nil), 1500*time.Millisecond)

	if got, want := trace(pops), seqs(0, 50); got != want {
		t.Fatalf("trace\n%s\nwant\n%s", got, want)
	}
	// Playout starts once the 40 ms target is buffered: packet 1 arrives
	// at 25 ms, so packet 0 plays at the 40 ms tick, and the depth stays
	// at the target.
	first := slices.IndexFunc(pops, func(p pop) bool { return p.seq == 0 })
	if at := time.Duration(first) * frame; at != 40*time.Millisecond {
		t.Errorf("first packet played at %v, want 40ms", at)
	}
	for _, p := range pops[first : first+49] {
		if p.depth > 40*time.Millisecond {
			t.Errorf("depth %v after playing %d, want at most 40ms", p.depth, p.seq)
		}
	}
	// After the stream ends the buffer conceals a few frames, then goes
	// quiet instead of concealing forever.
	if last := pops[len(pops)-1]; last.ok {
		t.Errorf("1.5 s after the stream ended Pop still returns ok (lost=%v)", last.lost)
	}
	st := b.Stats()
	want := jitter.Stats{Received: 50, Underruns: st.Underruns, Target: 40 * time.Millisecond}
	if st != want {
		t.Errorf("stats %+v, want %+v", st, want)
	}
	if st.Underruns == 0 || st.Underruns > 10 {
		t.Errorf("%d underruns after the end, want 1..10 (200 ms of concealment at most)", st.Underruns)
	}
}

func TestReorder(t *testing.T) {
	b := newBuffer(t)
	pkts := sendStream(60, 0, 0, 1, 0, func(i int) time.Duration {
		switch i {
		case 10:
			return 30 * time.Millisecond // after 11
		case 20:
			return 33 * time.Millisecond // after 21, before its playout
		case 40, 41:
			return 45 * time.Millisecond // after 42
		}
		return 5 * time.Millisecond
	})
	pops := playout(t, b, pkts, 1500*time.Millisecond)

	got := played(pops)
	want := make([]int, 60)
	for i := range want {
		want[i] = i
	}
	if !slices.Equal(got, want) {
		t.Fatalf("played %v\nwant %v", got, want)
	}
	if st := b.Stats(); st.Lost != 0 || st.Late != 0 || st.Duplicates != 0 || st.Received != 60 {
		t.Errorf("stats %+v: want no loss, late or duplicate", st)
	}
}

func TestLoss(t *testing.T) {
	b := newBuffer(t)
	pkts := without(sendStream(50, 0, 0, 1, 0, nil), 10, 30, 31, 32)
	pops := playout(t, b, pkts, 1500*time.Millisecond)

	want := strings.Join([]string{seqs(0, 10), "L", seqs(11, 19), "L L L", seqs(33, 17)}, " ")
	if got := trace(pops); got != want {
		t.Fatalf("trace\n%s\nwant\n%s", got, want)
	}
	if st := b.Stats(); st.Lost != 4 || st.Received != 46 || st.Late != 0 {
		t.Errorf("stats %+v: want 4 lost of 46 received", st)
	}
}

func TestLossAtStreamEnd(t *testing.T) {
	b := newBuffer(t)
	// 48 and 49 never come; nothing follows them. The buffer conceals and
	// falls silent, it does not wait forever.
	pops := playout(t, b, without(sendStream(50, 0, 0, 1, 0, nil), 48, 49), 1500*time.Millisecond)
	if got, want := trace(pops), seqs(0, 48); got != want {
		t.Fatalf("trace\n%s\nwant\n%s", got, want)
	}
	if last := pops[len(pops)-1]; last.ok {
		t.Error("Pop still returns ok long after the stream ended")
	}
}

func TestLatePacket(t *testing.T) {
	b := newBuffer(t)
	pkts := sendStream(50, 0, 0, 1, 0, func(i int) time.Duration {
		if i == 10 {
			return 150 * time.Millisecond // its successors play before it comes
		}
		return 5 * time.Millisecond
	})
	pops := playout(t, b, pkts, 1500*time.Millisecond)

	got := played(pops)
	if slices.Contains(got, 10) || !slices.IsSorted(got) || len(got) != 49 {
		t.Fatalf("played %v: want 0..49 without 10, in order", got)
	}
	if st := b.Stats(); st.Late != 1 || st.Lost != 1 {
		t.Errorf("stats %+v: want 1 late and 1 lost", st)
	}
}

func TestDuplicates(t *testing.T) {
	b := newBuffer(t)
	pkts := sendStream(50, 0, 0, 1, 0, nil)
	pkts = append(pkts,
		arrival{seq: 5, ts: 5 * 160, ssrc: 1, at: 5*frame + 6*time.Millisecond},   // while 5 is buffered
		arrival{seq: 7, ts: 7 * 160, ssrc: 1, at: 7*frame + 300*time.Millisecond}, // long after 7 played
	)
	slices.SortStableFunc(pkts, func(a, b arrival) int { return int(a.at - b.at) })
	pops := playout(t, b, pkts, 1500*time.Millisecond)

	if got, want := trace(pops), seqs(0, 50); got != want {
		t.Fatalf("trace\n%s\nwant\n%s", got, want)
	}
	if st := b.Stats(); st.Duplicates != 2 || st.Late != 0 || st.Received != 52 {
		t.Errorf("stats %+v: want 2 duplicates of 52 received", st)
	}
}

// Bursts of 120 ms, once a second: the network holds six packets and
// delivers them at once. The buffer underruns the first time, keeps the
// depth it gained, and when the network calms down it shrinks back to the
// nominal depth.
func TestBurstJitterGrowsThenShrinks(t *testing.T) {
	b := newBuffer(t)
	const n = 500 // 10 s
	pkts := sendStream(n, 0, 0, 1, 0, func(i int) time.Duration {
		for _, start := range []int{50, 100, 150} {
			if i >= start && i <= start+5 {
				return time.Duration(start+5-i)*frame + 5*time.Millisecond
			}
		}
		return 5 * time.Millisecond
	})
	pops := playout(t, b, pkts, n*frame+500*time.Millisecond)

	var maxDepth, maxTarget time.Duration
	for _, p := range pops {
		maxDepth, maxTarget = max(maxDepth, p.depth), max(maxTarget, p.target)
	}
	if maxDepth < 100*time.Millisecond || maxTarget < 60*time.Millisecond {
		t.Errorf("depth peaked at %v and target at %v: want the buffer to grow (>= 100 ms, >= 60 ms)", maxDepth, maxTarget)
	}
	// Half a second before the stream ends, 6 s after the last burst.
	calm := pops[n-25]
	if calm.depth > 60*time.Millisecond || calm.target != 40*time.Millisecond {
		t.Errorf("after the network calmed down: depth %v, target %v; want <= 60 ms and 40 ms", calm.depth, calm.target)
	}

	got := played(pops)
	st := b.Stats()
	if !slices.IsSorted(got) || st.Lost != 0 || st.Late != 0 {
		t.Errorf("played in order: %v, lost %d, late %d: want in order, none lost or late", slices.IsSorted(got), st.Lost, st.Late)
	}
	if st.Dropped == 0 || uint64(len(got))+st.Dropped != n {
		t.Errorf("played %d and dropped %d of %d: want the shrinking to drop some, and the rest played", len(got), st.Dropped, n)
	}
	if st.Underruns == 0 {
		t.Error("no underrun: the first burst should have caught the buffer short")
	}
	// The depth the first burst taught absorbs the next two.
	for i, p := range pops[75:n] {
		if p.lost {
			t.Errorf("frame concealed at %v, after the buffer had learnt the bursts", time.Duration(75+i)*frame)
		}
	}
}

func TestJitterEstimate(t *testing.T) {
	b := newBuffer(t)
	// Arrivals alternate 0 and 10 ms late: every transit difference D is
	// 10 ms, so RFC 3550's J converges to 10 ms.
	pkts := sendStream(200, 0, 0, 1, 0, func(i int) time.Duration { return time.Duration(i%2) * 10 * time.Millisecond })
	playout(t, b, pkts, 200*frame)

	st := b.Stats()
	if st.Jitter < 9900*time.Microsecond || st.Jitter > 10*time.Millisecond {
		t.Errorf("jitter %v, want about 10 ms", st.Jitter)
	}
	// One frame plus four times the jitter.
	if st.Target < 59*time.Millisecond || st.Target > 60*time.Millisecond {
		t.Errorf("target %v, want about 60 ms", st.Target)
	}
	if st.Lost != 0 || st.Late != 0 {
		t.Errorf("stats %+v: want nothing lost or late", st)
	}
}

func TestSequenceWrap(t *testing.T) {
	b := newBuffer(t)
	pkts := sendStream(100, 65500, 0, 1, 0, func(i int) time.Duration {
		if i == 35 { // 65535 arrives after 0
			return 25 * time.Millisecond
		}
		return 5 * time.Millisecond
	})
	pkts = without(pkts, 2)
	pops := playout(t, b, pkts, 2500*time.Millisecond)

	want := seqs(65500, 38) + " L " + seqs(3, 61)
	if got := trace(pops); got != want {
		t.Fatalf("trace\n%s\nwant\n%s", got, want)
	}
	if st := b.Stats(); st.Lost != 1 || st.Late != 0 || st.Resets != 0 {
		t.Errorf("stats %+v: want exactly 1 lost, no reset", st)
	}
}

func TestTimestampWrap(t *testing.T) {
	b := newBuffer(t)
	pops := playout(t, b, sendStream(100, 7, 1<<32-10*160, 1, 0, nil), 2500*time.Millisecond)

	if got, want := trace(pops), seqs(7, 100); got != want {
		t.Fatalf("trace\n%s\nwant\n%s", got, want)
	}
	if st := b.Stats(); st.Jitter != 0 || st.Target != 40*time.Millisecond {
		t.Errorf("jitter %v, target %v across the timestamp wrap: want 0 and 40 ms", st.Jitter, st.Target)
	}
}

func TestNewSSRCResets(t *testing.T) {
	b := newBuffer(t)
	a := sendStream(25, 100, 0, 0xA, 0, nil)
	c := sendStream(25, 40000, 123456789, 0xC, 25*frame, nil)
	pops := playout(t, b, append(a, c...), 1500*time.Millisecond)

	var fromA, fromC []int
	for _, p := range pops {
		switch {
		case p.seq >= 0 && p.ssrc == 0xA:
			fromA = append(fromA, p.seq)
		case p.seq >= 0 && p.ssrc == 0xC:
			fromC = append(fromC, p.seq)
		}
	}
	if len(fromA) == 0 || fromA[0] != 100 || !slices.IsSorted(fromA) {
		t.Errorf("stream A played %v, want an in-order prefix of 100..124", fromA)
	}
	wantC := make([]int, 25)
	for i := range wantC {
		wantC[i] = 40000 + i
	}
	if !slices.Equal(fromC, wantC) {
		t.Errorf("stream C played %v, want %v", fromC, wantC)
	}
	st := b.Stats()
	if st.Resets != 1 || st.Lost != 0 || st.Late != 0 {
		t.Errorf("stats %+v: want 1 reset, nothing lost or late", st)
	}
	if got := uint64(len(fromA)) + st.Dropped; got != 25 {
		t.Errorf("stream A: %d played + %d dropped at the reset, want 25", len(fromA), st.Dropped)
	}
}

// RFC 3550 A.1: one far-off packet is discarded; two in sequence mean the
// sender restarted its numbering.
func TestSequenceJump(t *testing.T) {
	b := newBuffer(t)
	pkts := sendStream(20, 0, 0, 1, 0, nil)
	pkts = append(pkts, arrival{seq: 30000, ts: 20 * 160, ssrc: 1, at: 19*frame + 6*time.Millisecond}) // stray
	pkts = append(pkts, sendStream(20, 50000, 40*160, 1, 20*frame, nil)...)
	pops := playout(t, b, pkts, 1500*time.Millisecond)

	got := played(pops)
	if !slices.Contains(got, 19) || slices.Contains(got, 30000) || slices.Contains(got, 50000) {
		t.Errorf("played %v: want the first stream, not the stray packet nor 50000 (the probe)", got)
	}
	if got[len(got)-1] != 50019 || !slices.Contains(got, 50001) {
		t.Errorf("played %v: want the restarted stream from 50001 to 50019", got)
	}
	// The stray packet lies ahead (dropped), the probe behind (late).
	if st := b.Stats(); st.Resets != 1 || st.Dropped != 1 || st.Late != 1 {
		t.Errorf("stats %+v: want 1 reset, the stray packet dropped and the probe late", st)
	}
}

func TestDepthCapped(t *testing.T) {
	b := newBuffer(t)
	// 600 ms of audio arrives at once, e.g. after an outage.
	pkts := sendStream(30, 0, 0, 1, 0, func(i int) time.Duration { return time.Duration(29-i)*frame + time.Millisecond })
	pops := playout(t, b, pkts, 1500*time.Millisecond)

	if got, want := trace(pops), seqs(20, 10); got != want {
		t.Fatalf("trace\n%s\nwant\n%s", got, want)
	}
	if st := b.Stats(); st.Dropped != 20 || st.Lost != 0 {
		t.Errorf("stats %+v: want the 20 oldest dropped to keep 200 ms", st)
	}
}

// With silence suppression the sender stops between talkspurts; the
// numbering goes on and the timestamp jumps. The buffer falls quiet and
// buffers the next talkspurt up to the target again.
func TestSilenceSuppression(t *testing.T) {
	b := newBuffer(t)
	pkts := sendStream(25, 0, 0, 1, 0, nil)
	pkts = append(pkts, sendStream(25, 25, (25+50)*160, 1, (25+50)*frame, nil)...)
	pops := playout(t, b, pkts, 2500*time.Millisecond)

	tr := trace(pops)
	if !strings.HasPrefix(tr, seqs(0, 25)+" L") || !strings.HasSuffix(tr, "- "+seqs(25, 25)) {
		t.Errorf("trace %s\nwant the first talkspurt, a few concealed frames, silence, the second talkspurt", tr)
	}
	if c := strings.Count(tr, "L"); c > 10 {
		t.Errorf("%d frames concealed during the pause, want at most 10 (200 ms)", c)
	}
	resume := slices.IndexFunc(pops, func(p pop) bool { return p.seq == 25 })
	if at := pops[resume].at - 75*frame; at != 40*time.Millisecond {
		t.Errorf("second talkspurt started playing %v after it was sent, want 40 ms", at)
	}
	if st := b.Stats(); st.Lost != 0 || st.Late != 0 {
		t.Errorf("stats %+v: want nothing lost or late", st)
	}
}

// A pause shorter than MaxDelay: the buffer conceals across it, and the
// timestamp jump tells that the packet after it was not late, so the
// target does not grow.
func TestShortSilenceIsNotJitter(t *testing.T) {
	b := newBuffer(t)
	pkts := sendStream(25, 0, 0, 1, 0, nil)
	pkts = append(pkts, sendStream(25, 25, (25+5)*160, 1, (25+5)*frame, nil)...)
	pops := playout(t, b, pkts, 1500*time.Millisecond)

	want := seqs(0, 25) + " L L L L L " + seqs(25, 25)
	if got := trace(pops); got != want {
		t.Fatalf("trace\n%s\nwant\n%s", got, want)
	}
	for _, p := range pops {
		if p.target != 40*time.Millisecond {
			t.Fatalf("target %v at %v, want 40 ms throughout", p.target, p.at)
		}
	}
}

// A one-packet talkspurt after a short pause still plays, once nothing
// more comes for the target delay.
func TestLonePacketAfterShortPause(t *testing.T) {
	b := newBuffer(t)
	pkts := sendStream(25, 0, 0, 1, 0, nil)
	pkts = append(pkts, sendStream(1, 25, (25+5)*160, 1, (25+5)*frame, nil)...)
	pops := playout(t, b, pkts, 1500*time.Millisecond)

	if got, want := trace(pops), seqs(0, 25)+" L L L L L L "+seqs(25, 1); got != want {
		t.Fatalf("trace\n%s\nwant\n%s", got, want)
	}
}

func TestShortTalkspurtPlays(t *testing.T) {
	b := newBuffer(t)
	b.Push(&rtp.Packet{Header: rtp.Header{SequenceNumber: 9, SSRC: 1}}, t0)
	if _, _, ok := b.Pop(t0.Add(20 * time.Millisecond)); ok {
		t.Fatal("a lone packet played before the target delay")
	}
	pkt, lost, ok := b.Pop(t0.Add(40 * time.Millisecond))
	if !ok || lost || pkt == nil || pkt.SequenceNumber != 9 {
		t.Fatalf("Pop after the target delay = %v, %v, %v; want packet 9", pkt, lost, ok)
	}
}

func TestPopBeforeAnyPacket(t *testing.T) {
	b := newBuffer(t)
	if pkt, lost, ok := b.Pop(t0); pkt != nil || lost || ok {
		t.Errorf("Pop on an empty buffer = %v, %v, %v; want nothing", pkt, lost, ok)
	}
	b.Push(nil, t0) // ignored
	if st := b.Stats(); st.Received != 0 || st.Target != 40*time.Millisecond {
		t.Errorf("stats %+v", st)
	}
}

func TestConfig(t *testing.T) {
	bad := []jitter.Config{
		{ClockRate: -1},
		{FrameDuration: -time.Millisecond},
		{MinDelay: 300 * time.Millisecond},
		{MinDelay: -time.Millisecond},
		{MaxDelay: 10 * time.Millisecond},
		{FrameDuration: time.Microsecond, MaxDelay: time.Second},
	}
	for _, cfg := range bad {
		if _, err := jitter.New(cfg); err == nil {
			t.Errorf("New(%+v) accepted a bad config", cfg)
		}
	}
	b, err := jitter.New(jitter.Config{ClockRate: 16000, FrameDuration: 10 * time.Millisecond, MinDelay: 30 * time.Millisecond, MaxDelay: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	// 400 ms of 10 ms packets and no playout: only 100 ms stays.
	for i := range 40 {
		b.Push(&rtp.Packet{Header: rtp.Header{SequenceNumber: uint16(i), Timestamp: uint32(i) * 160, SSRC: 1}},
			t0.Add(time.Duration(i)*10*time.Millisecond))
	}
	if st := b.Stats(); st.Depth != 100*time.Millisecond || st.Target != 30*time.Millisecond || st.Dropped != 30 {
		t.Errorf("stats %+v: want depth 100 ms, target 30 ms, 30 dropped", st)
	}
}

// One goroutine pushes while another pops, as the RTP reader and the
// audio device do.
func TestConcurrentPushPop(t *testing.T) {
	b := newBuffer(t)
	const n = 2000
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range n {
			b.Push(&rtp.Packet{Header: rtp.Header{SequenceNumber: uint16(i), Timestamp: uint32(i) * 160, SSRC: 1}},
				t0.Add(time.Duration(i)*frame))
		}
	})
	var got []int
	for i := range n + 20 {
		if pkt, _, _ := b.Pop(t0.Add(time.Duration(i) * frame)); pkt != nil {
			got = append(got, int(pkt.SequenceNumber))
		}
	}
	wg.Wait()
	for i := 1; i < len(got); i++ {
		if got[i] <= got[i-1] {
			t.Fatalf("packet %d returned after %d", got[i], got[i-1])
		}
	}
	if st := b.Stats(); st.Received != n {
		t.Errorf("received %d, want %d", st.Received, n)
	}
}

func BenchmarkPushPop(b *testing.B) {
	buf := newBuffer(b)
	pkts := make([]rtp.Packet, 64)
	i := 0
	for b.Loop() {
		p := &pkts[i%len(pkts)]
		p.SequenceNumber, p.Timestamp, p.SSRC = uint16(i), uint32(i)*160, 1
		at := t0.Add(time.Duration(i) * frame)
		buf.Push(p, at)
		if _, _, ok := buf.Pop(at); !ok && i > 10 {
			b.Fatalf("nothing to play at frame %d", i)
		}
		i++
	}
}
