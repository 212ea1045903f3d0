package sipua

import (
	"context"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/google/uuid"
)

// probeLoop asks the account's registrar an OPTIONS every ProbeInterval, so
// that a dead registrar is noticed within seconds rather than at the next
// refresh plus a transaction timeout. Any answer, even an error status,
// means the registrar is alive.
func (r *registration) probeLoop(ctx context.Context) {
	for sleep(ctx, r.ep.clock, r.ep.opts.ProbeInterval) {
		start := r.ep.clock.Now()
		err := r.probe(ctx)
		if ctx.Err() != nil {
			return
		}
		r.probed(start, err)
	}
}

// probe sends one OPTIONS and waits at most ProbeTimeout for an answer.
func (r *registration) probe(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, r.ep.opts.ProbeTimeout)
	defer cancel()
	dest, err := r.ep.destination(ctx, r)
	if err != nil {
		return err
	}
	host, port, _ := splitHostPort(r.acct.Registrar, 0)
	ruri := sip.Uri{Scheme: "sip", Host: host, Port: port}
	req := r.newRequest(sip.OPTIONS, ruri, ruri, uuid.NewString(), 1, dest)
	req.AppendHeader(sip.NewHeader("Accept", "application/sdp"))
	req.AppendHeader(sip.NewHeader("User-Agent", r.ep.opts.UserAgent))
	_, err = r.ep.client.Do(ctx, req)
	return err
}

// probed acts on a probe's outcome: an answer after a failure without one
// (or after a certificate error) registers at once; no answer marks the
// account failed and starts the back-off.
func (r *registration) probed(start time.Time, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.refreshing {
		return // the tester wants this binding to lapse
	}
	now := r.ep.clock.Now()
	switch {
	case err == nil:
		// A verified TLS connection also means the certificate was fixed.
		if r.unreachable || r.state == RegistrationCertificateError {
			r.log.Info("registrar answers again")
			r.failures = 0
			r.due = now
			r.forced = true
			r.poke()
		}
	case r.lastOK.After(start):
		// A REGISTER succeeded while this probe was out.
	default:
		if problem, ok := certificateProblem(err); ok {
			if r.state != RegistrationCertificateError {
				r.unreachable = false
				r.fail(now, RegistrationCertificateError, 0, problem, 0)
				r.poke()
			}
			return
		}
		if r.state != RegistrationFailed || r.reason != reasonUnreachable {
			r.log.Info("registrar probe failed", "error", err)
			r.unreachable = true
			r.fail(now, RegistrationFailed, 0, reasonUnreachable, 0)
			r.poke()
		}
	}
}

// sleep waits d on clock; it reports false if ctx ended first.
func sleep(ctx context.Context, clock Clock, d time.Duration) bool {
	fired := make(chan struct{})
	t := clock.AfterFunc(d, func() { close(fired) })
	select {
	case <-fired:
		return true
	case <-ctx.Done():
		t.Stop()
		return false
	}
}
