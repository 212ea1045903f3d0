// Package jitter is an adaptive jitter buffer for one RTP audio stream.
//
// Push hands it packets as they arrive from the network; a playout clock
// calls Pop once per frame. The buffer puts packets back in sequence
// order, drops duplicates and packets that come after their playout
// point, and reports a missing packet as lost so that the caller conceals
// it (see package plc). Its depth follows a target that rises at once
// with the RFC 3550 interarrival jitter, or by the frames a late packet
// caught it short, and falls back slowly, between Config.MinDelay and
// Config.MaxDelay.
//
// Every packet is assumed to carry one frame (Config.FrameDuration) of
// audio, as G.711 peers do with a fixed ptime. Time is passed in, never
// read, so tests drive the buffer with a simulated clock.
package jitter

import (
	"fmt"
	"log/slog"
	"math"
	"math/bits"
	"sync"
	"time"

	"github.com/pion/rtp"
)

// RFC 3550 A.1: a packet further than these from the expected sequence
// number is a candidate restart of the stream, not a reordering.
const (
	maxMisorder = 100
	maxDropout  = 3000
)

// Config sets up a Buffer. Zero fields take the defaults of DefaultConfig.
type Config struct {
	ClockRate     int           // RTP clock rate in Hz
	FrameDuration time.Duration // audio in one packet, and the interval between Pops
	MinDelay      time.Duration // the target depth never goes below this
	MaxDelay      time.Duration // the depth never goes above this
	Logger        *slog.Logger
}

// DefaultConfig suits 8 kHz G.711 with 20 ms packets.
func DefaultConfig() Config {
	return Config{
		ClockRate:     8000,
		FrameDuration: 20 * time.Millisecond,
		MinDelay:      40 * time.Millisecond,
		MaxDelay:      200 * time.Millisecond,
	}
}

// Stats counts what the buffer did. Counters add up over the buffer's
// whole life, across stream resets.
type Stats struct {
	Received   uint64 // packets pushed
	Lost       uint64 // sequence numbers due for playout that had not arrived
	Late       uint64 // packets that arrived after their playout point (or far behind it)
	Duplicates uint64 // packets whose sequence number was already buffered or played
	Dropped    uint64 // packets discarded to shrink the depth, to respect MaxDelay, at a reset, or far ahead
	Underruns  uint64 // frames concealed because the buffer had run dry
	Inserted   uint64 // frames concealed on purpose to deepen the buffer
	Resets     uint64 // stream restarts: a new SSRC or a jump in sequence numbers

	Depth  time.Duration // audio buffered from the playout point to the newest packet
	Target time.Duration // the depth the buffer steers towards
	Jitter time.Duration // RFC 3550 interarrival jitter estimate
}

type slotState uint8

const (
	slotEmpty  slotState = iota
	slotHeld             // buffered, waiting for playout
	slotPlayed           // returned by Pop or dropped: a copy is a duplicate
	slotLost             // declared lost: the packet is late if it comes
)

type slot struct {
	ext   int64 // extended sequence number the entry is about
	pkt   *rtp.Packet
	state slotState
}

// stream is the state of the current RTP stream, reset with it.
type stream struct {
	active   bool // a packet has been seen
	ssrc     uint32
	playing  bool   // playout runs (false while buffering up)
	played   bool   // a packet of this stream has been returned
	playedTS uint32 // timestamp of the packet returned last
	next     int64  // extended sequence number of the next frame to play
	newest   int64  // highest extended sequence number held (when held > 0)
	held     int    // packets waiting in the ring
	stalled  int64  // consecutive frames concealed waiting for the packet at next

	probing  bool   // a far-off packet was seen; its successor restarts the stream
	probeSeq uint16 // the sequence number that confirms the restart

	haveLast    bool
	lastArrival time.Time
	lastTS      uint32
	jitter      float64 // RFC 3550 J, in timestamp units
	target      time.Duration

	winPops        int   // Pops in the current adjustment window
	winMin, winMax int64 // depth range in frames seen in the window
}

// Buffer is an adaptive jitter buffer. One goroutine may Push while
// another Pops.
type Buffer struct {
	clockRate float64
	frame     time.Duration
	frameTS   int64 // timestamp units in a frame
	minDelay  time.Duration
	maxDelay  time.Duration
	capFrames int64         // the most frames the buffer holds
	window    int           // Pops between two depth adjustments
	decay     time.Duration // how far the target may fall per Pop
	log       *slog.Logger

	mu    sync.Mutex
	ring  []slot // indexed by extended sequence number & mask
	mask  int64
	st    stream
	stats Stats
}

// New returns an empty buffer.
func New(cfg Config) (*Buffer, error) {
	def := DefaultConfig()
	if cfg.ClockRate == 0 {
		cfg.ClockRate = def.ClockRate
	}
	if cfg.FrameDuration == 0 {
		cfg.FrameDuration = def.FrameDuration
	}
	if cfg.MinDelay == 0 {
		cfg.MinDelay = def.MinDelay
	}
	if cfg.MaxDelay == 0 {
		cfg.MaxDelay = def.MaxDelay
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	switch {
	case cfg.ClockRate < 0:
		return nil, fmt.Errorf("jitter: clock rate %d Hz: must be positive", cfg.ClockRate)
	case cfg.FrameDuration < 0:
		return nil, fmt.Errorf("jitter: frame duration %v: must be positive", cfg.FrameDuration)
	case cfg.MaxDelay < cfg.FrameDuration:
		return nil, fmt.Errorf("jitter: max delay %v: shorter than one frame (%v)", cfg.MaxDelay, cfg.FrameDuration)
	case cfg.MinDelay < 0 || cfg.MinDelay > cfg.MaxDelay:
		return nil, fmt.Errorf("jitter: min delay %v: must lie between 0 and max delay %v", cfg.MinDelay, cfg.MaxDelay)
	case cfg.MaxDelay/cfg.FrameDuration > 1<<12:
		return nil, fmt.Errorf("jitter: max delay %v: more than 4096 frames of %v", cfg.MaxDelay, cfg.FrameDuration)
	}
	capFrames := int64(cfg.MaxDelay / cfg.FrameDuration)
	// The ring holds the buffered frames plus maxMisorder frames of history,
	// so that a copy of a recently played packet counts as a duplicate.
	size := int64(1) << bits.Len64(uint64(capFrames+maxMisorder))
	return &Buffer{
		clockRate: float64(cfg.ClockRate),
		frame:     cfg.FrameDuration,
		frameTS:   int64(float64(cfg.ClockRate) * cfg.FrameDuration.Seconds()),
		minDelay:  cfg.MinDelay,
		maxDelay:  cfg.MaxDelay,
		capFrames: capFrames,
		// Adjust the depth at most every 200 ms and let the target fall at
		// 2% of real time: a jitter spike is remembered for seconds and the
		// audio is stretched or squeezed rarely.
		window: max(2, int(200*time.Millisecond/cfg.FrameDuration)),
		decay:  max(1, cfg.FrameDuration/50),
		log:    cfg.Logger,
		ring:   make([]slot, size),
		mask:   size - 1,
		st:     stream{target: cfg.MinDelay},
	}, nil
}

// Push adds a packet that arrived at the given time. The buffer keeps
// pkt until Pop returns it: the caller must not reuse it.
func (b *Buffer) Push(pkt *rtp.Packet, arrival time.Time) {
	if pkt == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.stats.Received++
	s := &b.st

	if !s.active || pkt.SSRC != s.ssrc {
		if s.active {
			b.log.Debug("jitter: new RTP stream", "old_ssrc", s.ssrc, "ssrc", pkt.SSRC)
		}
		b.restart(pkt, arrival)
		return
	}

	ext := s.next + int64(int16(pkt.SequenceNumber-uint16(s.next)))
	d := ext - s.next
	if d < -maxMisorder || d >= maxDropout {
		if s.probing && pkt.SequenceNumber == s.probeSeq {
			b.log.Debug("jitter: RTP sequence restarted", "ssrc", pkt.SSRC, "seq", pkt.SequenceNumber)
			b.restart(pkt, arrival)
			return
		}
		s.probing, s.probeSeq = true, pkt.SequenceNumber+1
		if d < 0 {
			b.stats.Late++
		} else {
			b.stats.Dropped++
		}
		return
	}

	if e := b.ring[ext&b.mask]; e.ext == ext && (e.state == slotHeld || e.state == slotPlayed) {
		b.stats.Duplicates++
		return
	}
	b.measure(pkt, arrival)

	if d < 0 {
		// Until playout starts, an earlier packet just moves the start, as
		// long as the span still fits.
		if s.played || s.newest-ext >= b.capFrames {
			b.stats.Late++
			return
		}
		s.next = ext
	}
	if d >= b.capFrames {
		// Too far ahead to hold: catch up with the sender.
		b.skipTo(ext - b.capFrames + 1)
		s.stalled = 0
	}
	b.store(ext, pkt)
}

// restart forgets the current stream and starts a new one with pkt.
func (b *Buffer) restart(pkt *rtp.Packet, arrival time.Time) {
	if b.st.active {
		b.stats.Resets++
		b.stats.Dropped += uint64(b.st.held)
	}
	clear(b.ring)
	ext := int64(pkt.SequenceNumber)
	b.st = stream{active: true, ssrc: pkt.SSRC, next: ext, target: b.minDelay}
	b.measure(pkt, arrival)
	b.store(ext, pkt)
}

// measure updates the RFC 3550 jitter estimate (section 6.4.1) and raises
// the target at once when the jitter calls for more depth.
func (b *Buffer) measure(pkt *rtp.Packet, arrival time.Time) {
	s := &b.st
	if s.haveLast {
		d := arrival.Sub(s.lastArrival).Seconds()*b.clockRate - float64(int32(pkt.Timestamp-s.lastTS))
		// A timestamp discontinuity is not jitter: one second already
		// saturates the target.
		d = math.Min(math.Abs(d), b.clockRate)
		s.jitter += (d - s.jitter) / 16
	}
	s.haveLast, s.lastArrival, s.lastTS = true, arrival, pkt.Timestamp
	s.target = max(s.target, b.desired())
}

// desired is the depth the jitter calls for: one frame plus four times
// the mean deviation covers all but rare delay peaks.
func (b *Buffer) desired() time.Duration {
	j := time.Duration(b.st.jitter / b.clockRate * float64(time.Second))
	return min(max(b.frame+4*j, b.minDelay), b.maxDelay)
}

func (b *Buffer) targetFrames() int64 {
	f := int64((b.st.target + b.frame - 1) / b.frame)
	return min(max(f, 1), b.capFrames)
}

func (b *Buffer) store(ext int64, pkt *rtp.Packet) {
	b.ring[ext&b.mask] = slot{ext: ext, pkt: pkt, state: slotHeld}
	if b.st.held == 0 || ext > b.st.newest {
		b.st.newest = ext
	}
	b.st.held++
}

func (b *Buffer) has(ext int64) bool {
	e := b.ring[ext&b.mask]
	return e.ext == ext && e.state == slotHeld
}

// lowest is the oldest buffered packet's number; the buffer must hold one.
func (b *Buffer) lowest() int64 {
	for ext := b.st.next; ext < b.st.newest; ext++ {
		if b.has(ext) {
			return ext
		}
	}
	return b.st.newest
}

// skipTo moves the playout point forward to ext without playing: held
// packets on the way are dropped, missing ones counted as lost.
func (b *Buffer) skipTo(ext int64) {
	s := &b.st
	for ; s.next < ext; s.next++ {
		e := &b.ring[s.next&b.mask]
		if e.ext == s.next && e.state == slotHeld {
			b.stats.Dropped++
			s.held--
			*e = slot{ext: s.next, state: slotPlayed}
			continue
		}
		b.stats.Lost++
		*e = slot{ext: s.next, state: slotLost}
	}
}

// Pop is called by the playout clock once per frame. It returns the
// packet due now (pkt, false, true); or (nil, true, true) when a frame is
// due but missing, which the caller conceals; or (nil, false, false) when
// nothing is playing (before the first packet, while buffering up, or
// after the sender went quiet), where the caller plays silence.
func (b *Buffer) Pop(now time.Time) (pkt *rtp.Packet, lost, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := &b.st
	if !s.active {
		return nil, false, false
	}
	s.target = max(min(s.target, b.desired()), s.target-b.decay)

	if !s.playing {
		if s.held == 0 {
			return nil, false, false
		}
		// Start when the target depth is buffered, or when the sender
		// paused for as long: a short talkspurt plays too.
		low := b.lowest()
		if s.newest-low+1 < b.targetFrames() && now.Sub(s.lastArrival) < s.target {
			return nil, false, false
		}
		b.skipTo(low) // after a pause, the numbers that never came are lost
		s.playing, s.stalled = true, 0
		b.startWindow()
	}

	if s.held == 0 {
		if now.Sub(s.lastArrival) >= b.maxDelay {
			// The sender went quiet (silence suppression, hold, outage):
			// buffer up its next talkspurt to the target again.
			s.playing = false
			return nil, false, false
		}
		s.stalled++
		b.stats.Underruns++
		b.observe(0)
		return nil, true, true
	}
	if s.stalled > 0 {
		switch {
		case !b.has(s.next):
			// Each frame concealed stood in for one missing packet.
			b.skipTo(min(s.next+s.stalled, b.lowest()))
		case int64(int32(b.ring[s.next&b.mask].pkt.Timestamp-s.playedTS)) <= b.frameTS:
			// The packet was late, not lost: it plays now, the buffer is
			// deeper by the stalls, and the target keeps that depth: the RFC
			// 3550 mean alone reacts too little to such a spike.
			s.target = min(s.target+time.Duration(s.stalled)*b.frame, b.maxDelay)
		case s.newest-s.next+1 < b.targetFrames() && now.Sub(s.lastArrival) < s.target:
			// The timestamp jumped: the sender paused (silence suppression)
			// and this starts a talkspurt. Buffer it up to the target while
			// the output is still silent (as when starting).
			s.stalled++
			b.stats.Inserted++
			return nil, true, true
		}
		s.stalled = 0
	}

	b.observe(s.newest - s.next + 1)
	if b.adjust() {
		b.stats.Inserted++
		return nil, true, true
	}
	if b.has(s.next) {
		e := &b.ring[s.next&b.mask]
		pkt = e.pkt
		*e = slot{ext: s.next, state: slotPlayed}
		s.held--
		s.next++
		s.played, s.playedTS = true, pkt.Timestamp
		return pkt, false, true
	}
	b.skipTo(s.next + 1)
	return nil, true, true
}

func (b *Buffer) startWindow() {
	b.st.winPops, b.st.winMin, b.st.winMax = 0, math.MaxInt64, math.MinInt64
}

func (b *Buffer) observe(depth int64) {
	s := &b.st
	s.winPops++
	s.winMin, s.winMax = min(s.winMin, depth), max(s.winMax, depth)
}

// adjust steers the depth towards the target once per window. It drops a
// frame the buffer never needed during the window, or reports that one
// frame should be concealed because even the fullest moment of the window
// fell short of the target.
func (b *Buffer) adjust() (insert bool) {
	s := &b.st
	if s.winPops < b.window {
		return false
	}
	lo, hi := s.winMin, s.winMax
	b.startWindow()
	tf := b.targetFrames()
	switch {
	case hi < tf:
		return true
	case lo > tf && b.has(s.next) && b.has(s.next+1):
		b.skipTo(s.next + 1)
	}
	return false
}

// Stats returns the counters and the current depth, target and jitter.
func (b *Buffer) Stats() Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	st := b.stats
	st.Target = b.st.target
	st.Jitter = time.Duration(b.st.jitter / b.clockRate * float64(time.Second))
	if b.st.held > 0 {
		st.Depth = time.Duration(b.st.newest-b.st.next+1) * b.frame
	}
	return st
}
