package sipua

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"
)

// RelaunchPhase says where a relaunch stands.
type RelaunchPhase int

// The phases a RelaunchEvent reports.
const (
	RelaunchStarted RelaunchPhase = iota + 1
	RelaunchFinished
)

func (p RelaunchPhase) String() string {
	switch p {
	case RelaunchStarted:
		return "started"
	case RelaunchFinished:
		return "finished"
	}
	return fmt.Sprintf("RelaunchPhase(%d)", int(p))
}

// RelaunchEvent reports a Relaunch: when it starts, and when it has
// finished, with how long it took, how many calls and subscriptions went
// on and what went wrong (Err nil when nothing did).
type RelaunchEvent struct {
	Phase    RelaunchPhase
	Duration time.Duration // RelaunchFinished: from start to finish
	Restored int           // RelaunchFinished: calls that went on
	Dropped  int           // RelaunchFinished: connected calls lost
	// RelaunchFinished: active subscriptions that went on, and those lost.
	SubscriptionsRestored int
	SubscriptionsDropped  int
	Err                   error
}

func (RelaunchEvent) isEvent() {}

// Relaunch restarts the SIP stack under the endpoint without dropping its
// connected calls (BC-18, BC-30): it stores them (Store), stops sipgo,
// the listeners and the registration loops without BYE and without
// un-REGISTER, starts a fresh stack on the same UDP, TCP and TLS ports
// (where the peers' dialogs and route sets send their requests),
// re-REGISTERs every account at once and restores the calls
// (RestoreCall). Active subscriptions are stored and restored the same
// way (Subscription.Store, RestoreSubscription); calls still being set up
// are ended, and subscriptions not yet active unsubscribed, as Close
// does. The peers see a pause in the media; their requests in that pause
// are retransmitted to the fresh stack. The application sees each call
// end with EndStored and come back, CONNECTED, with the same ID, and each
// subscription end with ReasonStored and come back, ACTIVE.
//
// ctx bounds the wait for calls busy with a re-INVITE or a REFER, and for
// subscriptions busy with a refresh. If the stack
// cannot start again the error says so and the endpoint can only be
// closed.
func (e *Endpoint) Relaunch(ctx context.Context) error {
	e.lifeMu.Lock()
	defer e.lifeMu.Unlock()
	if !e.started || e.stopping {
		return ErrNotStarted
	}
	begin := time.Now()
	e.log.Info("relaunch")
	e.emit(RelaunchEvent{Phase: RelaunchStarted})
	// No new calls meanwhile: incoming INVITEs are refused, Dial fails.
	e.live.Store(false)

	bufs, dropped := e.storeCalls(ctx)
	subs, subsDropped := e.storeSubscriptions(ctx)
	hctx, cancel := context.WithTimeout(context.Background(), e.opts.CloseTimeout)
	e.hangupAll(hctx)
	e.endSubscriptions(hctx)
	cancel()
	e.callsMu.Lock()
	e.waiting = true
	e.callsMu.Unlock()
	e.callWG.Wait()
	e.callsMu.Lock()
	e.waiting = false
	e.callsMu.Unlock()
	e.stop()
	e.loops.Wait()

	err := e.restartStack()
	restored := 0
	if err == nil {
		for _, buf := range bufs {
			if _, rerr := e.RestoreCall(buf); rerr != nil {
				e.log.Warn("relaunch: restore call", "error", rerr)
				err = errors.Join(err, rerr)
				dropped++
				continue
			}
			restored++
		}
	} else {
		dropped += len(bufs)
	}
	subsRestored := 0
	for _, ss := range subs {
		if !e.running() { // the stack did not start again
			subsDropped++
			continue
		}
		if _, rerr := e.RestoreSubscription(ss.buf, ss.pkg); rerr != nil {
			e.log.Warn("relaunch: restore subscription", "error", rerr)
			err = errors.Join(err, rerr)
			subsDropped++
			continue
		}
		subsRestored++
	}
	d := time.Since(begin)
	e.log.Info("relaunched", "duration", d, "restored", restored, "dropped", dropped,
		"subscriptions", subsRestored, "subscriptions dropped", subsDropped, "error", err)
	e.emit(RelaunchEvent{Phase: RelaunchFinished, Duration: d, Restored: restored, Dropped: dropped,
		SubscriptionsRestored: subsRestored, SubscriptionsDropped: subsDropped, Err: err})
	if err != nil {
		return fmt.Errorf("sipua: relaunch: %w", err)
	}
	return nil
}

// storeCalls stores every connected call; a call busy with a re-INVITE is
// tried again until ctx ends. It returns the buffers and how many
// connected calls could not be stored.
func (e *Endpoint) storeCalls(ctx context.Context) ([][]byte, int) {
	var bufs [][]byte
	dropped := 0
	for _, c := range e.Calls() {
		for {
			buf, err := c.Store(nil)
			if err == nil {
				bufs = append(bufs, buf)
				break
			}
			if !errors.Is(err, ErrBusy) {
				// Not connected (still being set up, or ended meanwhile):
				// hangupAll takes care of it.
				break
			}
			select {
			case <-ctx.Done():
				c.log.Warn("relaunch: call stays busy; it is dropped", "error", err)
				dropped++
			case <-time.After(20 * time.Millisecond):
				continue
			}
			break
		}
	}
	return bufs, dropped
}

// storedSub is a subscription stored for a relaunch, with the
// event package that reads it.
type storedSub struct {
	buf []byte
	pkg EventPackage
}

// storeSubscriptions stores every active subscription; one busy with a
// SUBSCRIBE is tried again until ctx ends. It returns the buffers and how
// many active subscriptions could not be stored. The others (not yet
// active) are left to endSubscriptions.
func (e *Endpoint) storeSubscriptions(ctx context.Context) ([]storedSub, int) {
	var out []storedSub
	dropped := 0
	for _, s := range e.subs.all() {
		for {
			buf, err := s.Store(nil)
			if err == nil {
				out = append(out, storedSub{buf: buf, pkg: s.pkg})
				break
			}
			if !errors.Is(err, ErrBusy) {
				break
			}
			select {
			case <-ctx.Done():
				s.log.Warn("relaunch: subscription stays busy; it is dropped", "error", err)
				dropped++
			case <-time.After(20 * time.Millisecond):
				continue
			}
			break
		}
	}
	return out, dropped
}

// restartStack closes sipgo and the listeners and starts them afresh on
// the same ports, then the registration loops, which REGISTER at once.
func (e *Endpoint) restartStack() error {
	udpPort := e.udpConn.LocalAddr().(*net.UDPAddr).Port
	tcpPort := e.tcpLn.Addr().(*net.TCPAddr).Port
	tlsPort := 0
	if e.tlsLn != nil {
		tlsPort = e.tlsLn.Addr().(*net.TCPAddr).Port
	}
	e.closeStack()
	if err := e.newStack(); err != nil {
		return err
	}
	if err := e.listenOn(udpPort, tcpPort, tlsPort); err != nil {
		e.closeStack()
		return err
	}
	runCtx, stop := context.WithCancel(context.Background())
	e.stop = stop
	for _, r := range e.regs {
		r.setContact(e.contactFor(r.acct))
		r.registerNow("relaunch", true)
		e.loops.Go(func() { r.run(runCtx) })
		e.loops.Go(func() { r.probeLoop(runCtx) })
	}
	e.loops.Go(func() { e.watch(runCtx) })
	e.live.Store(true)
	e.log.Info("endpoint restarted", "udp", e.udpConn.LocalAddr(), "tcp", e.tcpLn.Addr(), "tls", e.tlsAddr())
	return nil
}
