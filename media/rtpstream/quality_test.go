package rtpstream

import (
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/tandem-softphone/tandem/media/sdp"
)

// relay stands between two streams (with rtcp-mux): A sends to its
// sideA, B to its sideB. It delays every packet and drops some of A's RTP.
type relay struct {
	sideA, sideB *net.UDPConn
	wg           sync.WaitGroup
}

func newRelay(t *testing.T, a, b netip.AddrPort, dropAToB func(n int) bool, delay func(n int) time.Duration) *relay {
	t.Helper()
	listen := func() *net.UDPConn {
		c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, 0)))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	r := &relay{sideA: listen(), sideB: listen()}
	forward := func(in, out *net.UDPConn, to netip.AddrPort, drop func(int) bool) {
		defer r.wg.Done()
		buf := make([]byte, 1500)
		var timers sync.WaitGroup
		defer timers.Wait()
		for n := 0; ; {
			size, _, err := in.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			pkt := append([]byte(nil), buf[:size]...)
			if !isRTCP(pkt) {
				n++
				if drop != nil && drop(n) {
					continue
				}
			}
			timers.Add(1)
			time.AfterFunc(delay(n), func() {
				defer timers.Done()
				out.WriteToUDPAddrPort(pkt, to)
			})
		}
	}
	r.wg.Add(2)
	go forward(r.sideA, r.sideB, b, dropAToB)
	go forward(r.sideB, r.sideA, a, nil)
	t.Cleanup(func() {
		r.sideA.Close()
		r.sideB.Close()
		r.wg.Wait()
	})
	return r
}

func addrOf(c *net.UDPConn) netip.AddrPort { return c.LocalAddr().(*net.UDPAddr).AddrPort() }

// relayedPair starts two streams talking through a relay.
func relayedPair(t *testing.T, dropAToB func(n int) bool, delay func(n int) time.Duration) (a, b *Stream) {
	t.Helper()
	// Report intervals of some 30 packets measure the loss fraction well.
	cfg := fastConfig(nil)
	cfg.RTCPInterval = 600 * time.Millisecond
	a, b = openStream(t, cfg), openStream(t, cfg)
	la, lb := localFor(a, sdp.PCMU), localFor(b, sdp.PCMU)
	la.RTCPMux, lb.RTCPMux = true, true
	ma, mb := negotiate(t, la, lb)
	r := newRelay(t, a.LocalAddr(), b.LocalAddr(), dropAToB, delay)
	ma.Remote, ma.RemoteRTCP = addrOf(r.sideA), addrOf(r.sideA)
	mb.Remote, mb.RemoteRTCP = addrOf(r.sideB), addrOf(r.sideB)
	if err := a.Start(ma); err != nil {
		t.Fatal(err)
	}
	if err := b.Start(mb); err != nil {
		t.Fatal(err)
	}
	return a, b
}

func TestStatsOverLossyPath(t *testing.T) {
	// Every 5th packet of A's is lost; the delay varies from 10 to 42 ms
	// (which reorders some packets), RTCP's too.
	a, b := relayedPair(t,
		func(n int) bool { return n%5 == 0 },
		func(n int) time.Duration { return 10*time.Millisecond + time.Duration(n%5)*8*time.Millisecond })
	eventually(t, "two seconds of media and reports", func() bool {
		st := a.Stats()
		return b.Stats().Expected >= 100 && st.HaveRemoteReport && st.RemoteLost >= 5 && st.RTT > 0
	})
	sb, sa := b.Stats(), a.Stats()
	t.Logf("B: expected %d lost %d fraction %.3f jitter %v R %.1f MOS %.2f buffer %+v", sb.Expected, sb.Lost, sb.FractionLost, sb.Jitter, sb.RFactor, sb.MOS, sb.Buffer)
	t.Logf("A: remote lost %d fraction %.3f jitter %v RTT %v", sa.RemoteLost, sa.RemoteFractionLost, sa.RemoteJitter, sa.RTT)

	if rate := float64(sb.Lost) / float64(sb.Expected); rate < 0.17 || rate > 0.23 {
		t.Errorf("B's loss rate %.3f (%d of %d): want about 0.2", rate, sb.Lost, sb.Expected)
	}
	if sb.FractionLost < 0.1 || sb.FractionLost > 0.35 {
		t.Errorf("B's fraction lost %.3f: want about 0.2", sb.FractionLost)
	}
	if sb.Jitter < 3*time.Millisecond || sb.Jitter > 100*time.Millisecond {
		t.Errorf("B's jitter %v: want some milliseconds", sb.Jitter)
	}
	if sa.RemoteFractionLost < 0.1 || sa.RemoteLost < 5 || sa.RemoteJitter < 3*time.Millisecond {
		t.Errorf("A's view of B's report: fraction %.3f lost %d jitter %v", sa.RemoteFractionLost, sa.RemoteLost, sa.RemoteJitter)
	}
	if sa.RTT < 15*time.Millisecond || sa.RTT > 300*time.Millisecond {
		t.Errorf("RTT %v: want about 20 ms", sa.RTT)
	}
	// B hears A through 20 % loss; A hears B cleanly. The clean side's
	// absolute score depends on the jitter a loaded machine adds, so the
	// comparison is relative: loss must cost at least half a point.
	if sb.MOS > 3.6 || sa.MOS-sb.MOS < 0.5 {
		t.Errorf("MOS: lossy side %.2f, clean side %.2f: want under 3.6 and half a point below the clean side", sb.MOS, sa.MOS)
	}
	if sb.Buffer.Lost == 0 {
		t.Errorf("jitter buffer saw no loss: %+v", sb.Buffer)
	}
}

func TestEModel(t *testing.T) {
	r0, best := EModel(0, 0, 0)
	if r0 < 90 || best < 4.3 || best > 4.5 {
		t.Errorf("perfect path: R %.1f MOS %.2f", r0, best)
	}
	prev := best
	for _, loss := range []float64{0.01, 0.05, 0.1, 0.2, 0.5} {
		_, mos := EModel(20*time.Millisecond, 0, loss)
		if mos >= prev {
			t.Errorf("MOS %.2f at %.0f%% loss: not below %.2f", mos, loss*100, prev)
		}
		prev = mos
	}
	_, near := EModel(50*time.Millisecond, 5*time.Millisecond, 0)
	_, far := EModel(400*time.Millisecond, 5*time.Millisecond, 0)
	if far >= near {
		t.Errorf("MOS %.2f at 400 ms not below %.2f at 50 ms", far, near)
	}
	if r, mos := EModel(time.Hour, time.Hour, 1); r != 0 || mos != 1 {
		t.Errorf("hopeless path: R %.1f MOS %.2f", r, mos)
	}
}
