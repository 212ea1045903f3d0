package sipua

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/tandem-softphone/tandem/sitesim/registrar"
)

// BC-18, BC-30: Relaunch keeps the call: audio flows on both ways, hold
// and hang-up work afterwards, and both registrars see the endpoint
// registered again.
func TestRelaunchKeepsCall(t *testing.T) {
	s1 := startSite(t, "site1.test", nil)
	s2 := startSite(t, "site2.test", nil)
	a := newPhone(t, s1, "1001", phoneOptions{said: chirp(300, 3000, time.Second)})
	var (
		mu       sync.Mutex
		relaunch []RelaunchEvent
	)
	b1, b2 := s1.account("site1", TransportUDP, "2001"), s2.account("site2", TransportUDP, "2001")
	b1.DirectCalls, b2.DirectCalls = true, true
	b := newPhone(t, s1, "2001", phoneOptions{
		said:  chirp(3000, 300, time.Second),
		accts: []Account{b1, b2},
		edit: func(o *Options) {
			record := o.OnEvent
			o.OnEvent = func(ev Event) {
				if re, ok := ev.(RelaunchEvent); ok {
					mu.Lock()
					relaunch = append(relaunch, re)
					mu.Unlock()
				}
				record(ev)
			}
		},
	})
	s1.waitChange(t, "2001", true, registrar.ReasonRegistered)
	s2.waitChange(t, "2001", true, registrar.ReasonRegistered)
	ca, cb := connect(t, a, b)
	waitCall(t, ca, "audio arrives", func(i CallInfo) bool { return i.Media.Stats.PacketsReceived > 20 })
	ssrc := cb.Info().Media.Stats.SSRC

	// As when the registration expired (BC-18): the registrars forget it.
	s1.Expire("2001")
	s2.Expire("2001")
	s1.waitChange(t, "2001", false, registrar.ReasonExpired)
	s2.waitChange(t, "2001", false, registrar.ReasonExpired)

	// What the peer hears from here on came after the relaunch.
	relaunchAt := int(time.Since(ca.Info().Answered).Seconds() * callSampleRate)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := b.ep.Relaunch(ctx); err != nil {
		t.Fatalf("Relaunch: %v", err)
	}
	s1.waitChange(t, "2001", true, registrar.ReasonRegistered)
	s2.waitChange(t, "2001", true, registrar.ReasonRegistered)
	waitState(t, b.ep, "site1", RegistrationRegistered, 5*time.Second)
	waitState(t, b.ep, "site2", RegistrationRegistered, 5*time.Second)

	cb2, ok := b.ep.Call(cb.ID())
	if !ok {
		t.Fatal("the call is gone after Relaunch")
	}
	if st := ca.Info().State; st != CallConnected {
		t.Fatalf("the peer's call is %v", st)
	}
	got, gotB := packetsIn(ca), packetsIn(cb2)
	waitCall(t, ca, "audio after the relaunch", func(i CallInfo) bool {
		return i.Media.Stats.PacketsReceived > got+50 && i.Media.Stats.RemoteSSRC == ssrc
	})
	waitCall(t, cb2, "audio at the relaunched end", func(i CallInfo) bool { return i.Media.Stats.PacketsReceived > gotB+50 })

	// The relaunched end's microphone starts its 1 s chirp over when the
	// restored call takes the devices: 1.3 s later the peer has heard it
	// all. Holding the peer closes its speaker, so its recording can be
	// read.
	time.Sleep(1300 * time.Millisecond)
	if err := ca.Hold(); err != nil {
		t.Fatalf("the peer holds the restored call: %v", err)
	}
	waitCall(t, cb2, "held by the peer", func(i CallInfo) bool { return i.RemoteHold })
	heard := a.heard()
	if len(heard) < relaunchAt {
		t.Fatalf("the peer heard %d samples, the relaunch came after %d", len(heard), relaunchAt)
	}
	if r := correlation(b.said, heard[relaunchAt:]); r < 0.8 {
		t.Fatalf("the audio after the relaunch correlates %.2f with what was said", r)
	}
	if err := ca.Resume(); err != nil {
		t.Fatal(err)
	}
	waitCall(t, cb2, "resumed by the peer", func(i CallInfo) bool { return !i.RemoteHold })

	if err := cb2.Hold(); err != nil {
		t.Fatalf("Hold after Relaunch: %v", err)
	}
	waitCall(t, ca, "held", func(i CallInfo) bool { return i.RemoteHold })
	if err := cb2.Resume(); err != nil {
		t.Fatalf("Resume after Relaunch: %v", err)
	}
	waitCall(t, ca, "resumed", func(i CallInfo) bool { return !i.RemoteHold })
	if err := cb2.Hangup(); err != nil {
		t.Fatal(err)
	}
	waitEnded(t, cb2, EndLocalHangup)
	waitEnded(t, ca, EndRemoteHangup)

	eventually(t, "relaunch events", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(relaunch) == 2
	})
	mu.Lock()
	defer mu.Unlock()
	if relaunch[0].Phase != RelaunchStarted || relaunch[1].Phase != RelaunchFinished ||
		relaunch[1].Restored != 1 || relaunch[1].Dropped != 0 || relaunch[1].Err != nil || relaunch[1].Duration <= 0 {
		t.Fatalf("relaunch events %+v", relaunch)
	}
}
