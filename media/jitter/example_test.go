package jitter_test

import (
	"fmt"
	"time"

	"github.com/pion/rtp"
	"github.com/tandem-softphone/tandem/media/g711"
	"github.com/tandem-softphone/tandem/media/jitter"
	"github.com/tandem-softphone/tandem/media/plc"
)

// The playout loop of a G.711 call: every 20 ms take what the buffer has,
// decode it, or conceal the frame it reports lost.
func Example() {
	buf, err := jitter.New(jitter.DefaultConfig())
	if err != nil {
		fmt.Println(err)
		return
	}
	var conceal plc.Concealer
	pcm := make([]int16, 160)
	start := time.Unix(0, 0)

	for tick := range 8 {
		now := start.Add(time.Duration(tick) * 20 * time.Millisecond)
		if seq := uint16(tick); seq != 3 { // the network loses packet 3
			buf.Push(&rtp.Packet{
				Header:  rtp.Header{SequenceNumber: seq, Timestamp: uint32(seq) * 160, SSRC: 7},
				Payload: g711.EncodeUlaw(make([]int16, 160), nil),
			}, now)
		}
		pkt, lost, ok := buf.Pop(now)
		switch {
		case pkt != nil:
			pcm = g711.DecodeUlaw(pkt.Payload, pcm[:0])
			conceal.Good(pcm)
			fmt.Println(tick, "play", pkt.SequenceNumber)
		case lost:
			conceal.Conceal(pcm)
			fmt.Println(tick, "conceal")
		case !ok:
			clear(pcm)
			fmt.Println(tick, "silence")
		}
	}
	fmt.Println("lost:", buf.Stats().Lost)
	// Output:
	// 0 silence
	// 1 play 0
	// 2 play 1
	// 3 play 2
	// 4 conceal
	// 5 play 4
	// 6 play 5
	// 7 play 6
	// lost: 1
}
