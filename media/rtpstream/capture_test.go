package rtpstream

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// A simulated capture device and stream clock on one virtual timeline:
// no real time passes, so the results are exact.
const (
	simRate  = 8000
	simFrame = 20 * time.Millisecond
	simN     = simRate / 50 // samples per 20 ms frame
)

// simEvent is a device callback (write) or a stream tick (take) at a
// virtual time.
type simEvent struct {
	at    time.Duration
	write bool
}

// simResult is what the stream sent: per tick whether it was audio, and
// the audio itself in order.
type simResult struct {
	audio []bool
	sent  []int16
}

// sim feeds a queue: each callback writes the next simN samples of a
// ramp (sample i has the value i mod 30000), each tick takes a frame.
type sim struct {
	q    *captureQueue
	next int
	res  simResult
}

func (s *sim) step(ev simEvent) {
	if ev.write {
		pcm := make([]int16, simN)
		for i := range pcm {
			pcm[i] = int16(s.next % 30000)
			s.next++
		}
		s.q.write(pcm)
		return
	}
	frame := make([]int16, simN)
	ok := s.q.take(frame)
	s.res.audio = append(s.res.audio, ok)
	if ok {
		s.res.sent = append(s.res.sent, frame...)
	}
}

// sortEvents puts events in time order; a callback goes before a tick at
// the same time when it was listed first.
func sortEvents(events []simEvent) {
	slices.SortStableFunc(events, func(a, b simEvent) int { return int(a.at - b.at) })
}

// simulate runs q through events, calling watch (if not nil) after each.
func simulate(q *captureQueue, events []simEvent, watch func()) simResult {
	sortEvents(events)
	s := &sim{q: q}
	for _, ev := range events {
		s.step(ev)
		if watch != nil {
			watch()
		}
	}
	return s.res
}

// ticks are the stream's ticks every frame from 0 to end.
func ticks(end time.Duration) []simEvent {
	var evs []simEvent
	for at := time.Duration(0); at < end; at += simFrame {
		evs = append(evs, simEvent{at: at})
	}
	return evs
}

// cuts counts where sent audio does not follow on from the sample before.
func cuts(sent []int16) int {
	n := 0
	for i := 1; i < len(sent); i++ {
		if (int(sent[i-1])+1)%30000 != int(sent[i]) {
			n++
		}
	}
	return n
}

// gaps counts silent ticks after the first audio.
func gaps(audio []bool) int {
	first := slices.Index(audio, true)
	if first < 0 {
		return len(audio)
	}
	n := 0
	for _, ok := range audio[first:] {
		if !ok {
			n++
		}
	}
	return n
}

func newSimQueue() *captureQueue {
	return &captureQueue{limit: int(80 * time.Millisecond * simRate / time.Second)}
}

// Callbacks that come up to 34 ms late (under CPU load), against a
// stream clock of the same rate: after the lead, the audio goes out
// without a gap and without a cut.
func TestCaptureJitterNoGaps(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var events []simEvent
	for k := range 500 {
		late := time.Duration(rng.IntN(35)) * time.Millisecond
		events = append(events, simEvent{at: time.Duration(k)*simFrame + 1*time.Millisecond + late, write: true})
	}
	events = append(events, ticks(500*simFrame)...)

	q := newSimQueue()
	res := simulate(q, slices.Clone(events), nil)
	if g := gaps(res.audio); g != 0 {
		t.Errorf("%d silent frames after the audio started", g)
	}
	if c := cuts(res.sent); c != 0 {
		t.Errorf("%d cuts in the audio sent", c)
	}
	if first := slices.Index(res.audio, true); first < 0 || first > captureLead+1 {
		t.Errorf("the audio started at tick %d", first)
	}
	if q.underruns != 0 || q.dropped != 0 {
		t.Errorf("underruns %d, dropped %d", q.underruns, q.dropped)
	}

}

// simulateLeadOne replays events against a queue taken as soon as it
// holds one frame, as rtpstream did before the lead.
func simulateLeadOne(events []simEvent) []bool {
	sortEvents(events)
	queued := 0
	var audio []bool
	for _, ev := range events {
		if ev.write {
			queued += simN
			continue
		}
		ok := queued >= simN
		if ok {
			queued -= simN
		}
		audio = append(audio, ok)
	}
	return audio
}

// A device whose clock runs 1% fast fills the queue: it stays within its
// limit, and the surplus goes in a few cuts (not one per callback),
// never as a gap.
func TestCaptureFastDeviceBounded(t *testing.T) {
	var events []simEvent
	period := simFrame * 99 / 100
	for k := range 3000 {
		events = append(events, simEvent{at: time.Duration(k)*period + time.Millisecond, write: true})
	}
	events = append(events, ticks(3000*period)...)
	q := newSimQueue()
	maxLen := 0
	res := simulate(q, events, func() { maxLen = max(maxLen, len(q.pcm)) })
	if maxLen > q.limit {
		t.Errorf("the queue held %d samples, limit %d", maxLen, q.limit)
	}
	if q.dropped == 0 {
		t.Fatal("nothing dropped although the device ran ahead")
	}
	// 30 device frames of surplus, dropped two frames at a time.
	if c := cuts(res.sent); c == 0 || c > 20 {
		t.Errorf("%d cuts for %d samples dropped", c, q.dropped)
	}
	if g := gaps(res.audio); g != 0 || q.underruns != 0 {
		t.Errorf("%d gaps, %d underruns", g, q.underruns)
	}
}

// A device that stops (the call left the audio devices, or the device
// stalled far beyond the lead) leaves one underrun; when it comes back
// the queue waits for its lead again and then sends without gaps.
func TestCaptureStallRecovers(t *testing.T) {
	var events []simEvent
	for k := range 200 {
		if k >= 50 && k < 60 { // 200 ms without callbacks
			continue
		}
		events = append(events, simEvent{at: time.Duration(k)*simFrame + 5*time.Millisecond, write: true})
	}
	events = append(events, ticks(200*simFrame)...)
	q := newSimQueue()
	res := simulate(q, events, nil)
	if q.underruns != 1 {
		t.Errorf("%d underruns, want 1", q.underruns)
	}
	resumed := slices.Index(res.audio[60:], true)
	if resumed < 0 || resumed > captureLead+1 {
		t.Fatalf("audio resumed %d ticks after the device", resumed)
	}
	if g := gaps(res.audio[60+resumed:]); g != 0 {
		t.Errorf("%d gaps after the device came back", g)
	}
	if q.dropped != 0 {
		t.Errorf("dropped %d samples", q.dropped)
	}
}

// A stall shorter than the lead (one callback 35 ms late, the next two
// in a burst) costs nothing. Without the lead, the same stall sends a
// gap, as rtpstream did.
func TestCaptureShortStallNoGap(t *testing.T) {
	var events []simEvent
	for k := range 100 {
		at := time.Duration(k)*simFrame + time.Millisecond
		if k == 40 {
			at += 35 * time.Millisecond
		}
		events = append(events, simEvent{at: at, write: true})
	}
	events = append(events, ticks(100*simFrame)...)
	q := newSimQueue()
	res := simulate(q, events, nil)
	if g := gaps(res.audio); g != 0 || cuts(res.sent) != 0 {
		t.Errorf("%d gaps, %d cuts", g, cuts(res.sent))
	}
	if g := gaps(simulateLeadOne(events)); g != 1 {
		t.Errorf("without the lead: %d gaps, want the 1 the test is about", g)
	}
}
