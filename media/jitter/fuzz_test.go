package jitter

import (
	"math"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// FuzzBuffer plays arbitrary packet sequences through the buffer: every
// 4 bytes are one step (op, milliseconds to advance, two sequence bytes).
// After each step it checks the invariants: no packet comes out older
// than one already returned, the depth stays under the cap, every pushed
// packet is accounted for, and nothing panics.
func FuzzBuffer(f *testing.F) {
	f.Fuzz(func(t *testing.T, ops []byte) {
		b, err := New(Config{})
		if err != nil {
			t.Fatal(err)
		}
		now := time.Unix(1_700_000_000, 0)
		seq, ssrc := uint16(0), uint32(1)
		lastExt, resets := int64(math.MinInt64), uint64(0)
		var returned uint64

		for ; len(ops) >= 4; ops = ops[4:] {
			op, dt, lo, hi := ops[0], ops[1], ops[2], ops[3]
			now = now.Add(time.Duration(dt) * time.Millisecond)
			if op >= 0xF0 {
				ssrc++
			}
			switch op % 4 {
			case 0, 1: // a step near the previous number
				seq += uint16(int8(lo))
			case 2: // anywhere
				seq = uint16(lo) | uint16(hi)<<8
			case 3:
				pkt, lost, ok := b.Pop(now)
				switch {
				case pkt != nil && (lost || !ok), pkt == nil && ok && !lost, !ok && lost:
					t.Fatalf("Pop returned pkt=%v lost=%v ok=%v", pkt != nil, lost, ok)
				case pkt == nil:
					continue
				}
				returned++
				ext := b.st.next - 1
				if uint16(ext) != pkt.SequenceNumber {
					t.Fatalf("returned %d while the playout point says %d", pkt.SequenceNumber, uint16(ext))
				}
				if r := b.Stats().Resets; r != resets {
					resets, lastExt = r, math.MinInt64
				}
				if ext <= lastExt {
					t.Fatalf("returned %d (extended %d) after %d", pkt.SequenceNumber, ext, lastExt)
				}
				lastExt = ext
				checkInvariants(t, b, returned)
				continue
			}
			// Arrival stamps may lag the clock, as a busy reader's do.
			arrival := now.Add(-time.Duration(hi%64) * time.Millisecond)
			b.Push(&rtp.Packet{Header: rtp.Header{
				SequenceNumber: seq, Timestamp: uint32(seq)*160 + uint32(hi), SSRC: ssrc,
			}}, arrival)
			checkInvariants(t, b, returned)
		}
	})
}

func checkInvariants(t *testing.T, b *Buffer, returned uint64) {
	t.Helper()
	st := b.Stats()
	if st.Depth > b.maxDelay {
		t.Fatalf("depth %v above the cap %v", st.Depth, b.maxDelay)
	}
	if st.Target < b.minDelay || st.Target > b.maxDelay {
		t.Fatalf("target %v outside [%v, %v]", st.Target, b.minDelay, b.maxDelay)
	}
	held := 0
	for i, e := range b.ring {
		if e.state != slotHeld {
			continue
		}
		held++
		if e.ext < b.st.next || e.ext > b.st.newest || e.ext&b.mask != int64(i) {
			t.Fatalf("held packet %d outside [%d, %d] or in the wrong slot", e.ext, b.st.next, b.st.newest)
		}
	}
	if held != b.st.held {
		t.Fatalf("%d packets held, the count says %d", held, b.st.held)
	}
	if got := returned + uint64(held) + st.Late + st.Duplicates + st.Dropped; got != st.Received {
		t.Fatalf("received %d, but returned %d + held %d + late %d + duplicates %d + dropped %d = %d",
			st.Received, returned, held, st.Late, st.Duplicates, st.Dropped, got)
	}
}
