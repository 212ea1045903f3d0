package rtpstream

import (
	"time"
)

// RFC 4733 telephone-events 0..16: the digits, then A-D, then flash, which
// this package writes as '!'.
const dtmfDigits = "0123456789*#ABCD!"

// DTMFMinDuration and DTMFMaxDuration bound the duration of a digit sent.
const (
	DTMFMinDuration = 40 * time.Millisecond
	DTMFMaxDuration = time.Second
)

// Sending: the volume field of our events (-10 dBm0), how many times the
// final packet goes out, and the pause between two digits.
const (
	dtmfVolume   = 10
	dtmfEndCount = 3
	dtmfGap      = 60 * time.Millisecond
)

// A pending received event whose end packets were all lost is reported
// after this much quiet.
const dtmfEndTimeout = 500 * time.Millisecond

func eventCode(d rune) (uint8, bool) {
	if d >= 'a' && d <= 'd' {
		d -= 'a' - 'A'
	}
	for i, c := range dtmfDigits {
		if c == d {
			return uint8(i), true
		}
	}
	return 0, false
}

// dtmfTx is the event being sent.
type dtmfTx struct {
	code    uint8
	ts      uint32 // RTP timestamp of the event's start, in every packet
	total   uint32 // the event's duration in timestamp units
	started bool
	ends    int // final packets sent
}

// payload returns the event's next packet for the frame that ends at
// timestamp upTo, and whether the event is over.
func (e *dtmfTx) payload(upTo uint32) (p [4]byte, marker, done bool) {
	dur := upTo - e.ts
	end := dur >= e.total
	if end {
		dur = e.total
		e.ends++
	}
	p[0] = e.code
	p[1] = dtmfVolume
	if end {
		p[1] |= 0x80
	}
	p[2], p[3] = byte(dur>>8), byte(dur)
	marker = !e.started
	e.started = true
	return p, marker, e.ends >= dtmfEndCount
}

// dtmfRx turns received event packets into one report per event: the
// packets of an event share its timestamp, and its end is repeated.
type dtmfRx struct {
	pending bool
	ts      uint32
	code    uint8
	dur     uint32
	clock   int
	last    time.Time // when the pending event's last packet came

	done   bool
	doneTS uint32 // the last reported event, whose repeats are ignored
}

// packet handles one telephone-event payload.
func (r *dtmfRx) packet(ts uint32, payload []byte, clock int, now time.Time) []Event {
	// Events above flash (RFC 4734 tones) are not DTMF.
	if len(payload) < 4 || clock <= 0 || int(payload[0]) >= len(dtmfDigits) {
		return nil
	}
	if r.done && ts == r.doneTS {
		return nil
	}
	var evs []Event
	if r.pending && ts != r.ts {
		evs = append(evs, r.flush())
	}
	code, end, dur := payload[0], payload[1]&0x80 != 0, uint32(payload[2])<<8|uint32(payload[3])
	if !r.pending {
		r.pending, r.ts, r.code, r.dur, r.clock = true, ts, code, 0, clock
	}
	r.dur = max(r.dur, dur)
	r.last = now
	if end {
		evs = append(evs, r.flush())
	}
	return evs
}

// expire reports a pending event whose end never came.
func (r *dtmfRx) expire(now time.Time) []Event {
	if r.pending && now.Sub(r.last) >= dtmfEndTimeout {
		return []Event{r.flush()}
	}
	return nil
}

func (r *dtmfRx) flush() Event {
	r.pending, r.done, r.doneTS = false, true, r.ts
	return Event{Kind: EventDTMF, Digit: rune(dtmfDigits[r.code]), Duration: frameDuration(int(r.dur), r.clock)}
}
