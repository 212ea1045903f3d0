package rtpstream

import (
	"math"
	"time"

	"github.com/pion/rtcp"
)

// RFC 3550 appendix A.1: how far a sequence number may jump before it
// counts as a restart of the stream.
const (
	maxDropout  = 3000
	maxMisorder = 100
)

// recvStats follows the stream we receive, per RFC 3550 appendix A.
type recvStats struct {
	active  bool
	ssrc    uint32
	baseSeq uint32
	maxSeq  uint16
	cycles  uint32 // sequence number wraps, shifted by 16

	received uint64
	octets   uint64

	expectedPrior uint64
	receivedPrior uint64
	fraction      float64 // lost in the last report interval
	haveFraction  bool

	haveTransit bool
	transit     int64
	jitter      float64 // in timestamp units
	clock       int     // the clock jitter was measured in

	lastSR   uint32    // middle 32 bits of the NTP time of the last SR
	lastSRAt time.Time // when it arrived
}

func (r *recvStats) reset(ssrc uint32, seq uint16) {
	*r = recvStats{active: true, ssrc: ssrc, baseSeq: uint32(seq), maxSeq: seq}
}

// update counts a packet (A.1) and, for audio, the interarrival jitter
// (A.8). Telephone-events keep one timestamp for many packets, so they
// do not feed the jitter.
func (r *recvStats) update(ssrc uint32, seq uint16, ts uint32, size int, arrival time.Time, clock int, audio bool) {
	if !r.active || ssrc != r.ssrc {
		r.reset(ssrc, seq)
	} else {
		delta := seq - r.maxSeq
		switch {
		case delta < maxDropout:
			if seq < r.maxSeq {
				r.cycles += 1 << 16
			}
			r.maxSeq = seq
		case delta <= 1<<16-maxMisorder:
			// A jump: the sender restarted its sequence.
			r.reset(ssrc, seq)
		}
	}
	r.received++
	r.octets += uint64(size)

	if !audio || clock <= 0 {
		return
	}
	if clock != r.clock {
		r.clock, r.haveTransit, r.jitter = clock, false, 0
	}
	at := int64(arrival.UnixNano()) * int64(clock) / int64(time.Second)
	transit := at - int64(ts)
	if r.haveTransit {
		d := transit - r.transit
		if d < 0 {
			d = -d
		}
		r.jitter += (float64(d) - r.jitter) / 16
	}
	r.transit, r.haveTransit = transit, true
}

func (r *recvStats) extMax() uint64 { return uint64(r.cycles) + uint64(r.maxSeq) }

func (r *recvStats) expected() uint64 {
	if !r.active {
		return 0
	}
	return r.extMax() - uint64(r.baseSeq) + 1
}

func (r *recvStats) lost() int64 { return int64(r.expected()) - int64(r.received) }

func (r *recvStats) jitterDuration() time.Duration {
	if r.clock == 0 {
		return 0
	}
	return time.Duration(r.jitter / float64(r.clock) * float64(time.Second))
}

// report makes the reception report block (A.3) and starts a new interval.
func (r *recvStats) report(now time.Time) rtcp.ReceptionReport {
	expected := r.expected()
	expInt := expected - r.expectedPrior
	recvInt := r.received - r.receivedPrior
	r.expectedPrior, r.receivedPrior = expected, r.received
	r.fraction = 0
	if expInt > 0 && expInt > recvInt {
		r.fraction = float64(expInt-recvInt) / float64(expInt)
	}
	r.haveFraction = true

	lost := r.lost()
	lost = max(min(lost, 0x7FFFFF), -0x800000) // 24-bit signed
	rr := rtcp.ReceptionReport{
		SSRC:               r.ssrc,
		FractionLost:       uint8(math.Min(r.fraction*256, 255)),
		TotalLost:          uint32(lost) & 0xFFFFFF,
		LastSequenceNumber: uint32(r.extMax()),
		Jitter:             uint32(r.jitter),
	}
	if !r.lastSRAt.IsZero() {
		rr.LastSenderReport = r.lastSR
		rr.Delay = uint32(now.Sub(r.lastSRAt).Seconds() * 65536)
	}
	return rr
}

// ntpTime is t as a 64-bit NTP timestamp (seconds since 1900, 32.32).
func ntpTime(t time.Time) uint64 {
	const unixToNTP = 2208988800
	ns := uint64(t.UnixNano())
	sec := ns/1e9 + unixToNTP
	frac := (ns % 1e9) << 32 / 1e9
	return sec<<32 | frac
}

// ntpMiddle is the middle 32 bits of t's NTP timestamp, the unit of LSR.
func ntpMiddle(t time.Time) uint32 { return uint32(ntpTime(t) >> 16) }

// roundTrip is RFC 3550 section 6.4.1's A - LSR - DLSR, or 0 when the
// report does not allow it.
func roundTrip(now time.Time, rr rtcp.ReceptionReport) time.Duration {
	if rr.LastSenderReport == 0 {
		return 0
	}
	rtt := int32(ntpMiddle(now) - rr.LastSenderReport - rr.Delay)
	if rtt < 0 {
		return 0
	}
	return time.Duration(int64(rtt) * int64(time.Second) / 65536)
}

// EModel estimates call quality by the ITU-T G.107 E-model, simplified
// as is usual for VoIP monitoring: the delay impairment from the one-way
// delay plus twice the jitter and 10 ms of codec delay, and the
// equipment impairment of G.711 with packet loss concealment (Ie 0,
// Bpl 25.1, G.113 appendix I) under random loss (a fraction, 0..1). It
// returns the R-factor (0..93.2) and the MOS (1..4.5).
func EModel(oneWay, jitter time.Duration, loss float64) (r, mos float64) {
	d := float64(oneWay+2*jitter)/float64(time.Millisecond) + 10
	id := 0.024 * d
	if d > 177.3 {
		id += 0.11 * (d - 177.3)
	}
	ppl := math.Min(math.Max(loss, 0), 1) * 100
	const ie, bpl = 0, 25.1
	ieEff := ie + (95-ie)*ppl/(ppl+bpl)
	r = math.Max(93.2-id-ieEff, 0)
	return r, mosFromR(r)
}

func mosFromR(r float64) float64 {
	switch {
	case r <= 0:
		return 1
	case r >= 100:
		return 4.5
	}
	// The polynomial dips just below 1 for small R.
	return math.Max(1, 1+0.035*r+7e-6*r*(r-60)*(100-r))
}
