package core

import (
	"context"
	"errors"
	"fmt"

	"github.com/tandem-softphone/tandem/continuity"
	"github.com/tandem-softphone/tandem/sipua"
)

// ErrNoCall is returned for an intent on a call that is not (or no longer) there.
var ErrNoCall = errors.New("no such call")

// onCall keeps State.Calls up to date and tells the engine how many calls
// are in progress: a manual site switch is refused during a call (BC-24).
func (c *Core) onCall(ev sipua.CallEvent) {
	c.mu.Lock()
	calls := c.st.Calls[:0:0]
	for _, ci := range c.st.Calls {
		if ci.ID != ev.ID {
			calls = append(calls, ci)
		}
	}
	if ev.State != sipua.CallEnded {
		calls = append(calls, ev.CallInfo)
	} else {
		h := append(c.st.CallHistory[:0:0], c.st.CallHistory...)
		c.st.CallHistory = append(h[max(0, len(h)+1-maxHistory):], ev.CallInfo)
		c.saved.saveHistory(c.st.CallHistory)
	}
	c.st.Calls = calls
	active := len(calls)
	c.mu.Unlock()
	c.onCallSaved(ev)
	c.post(continuity.CallsChanged{Active: active})
	c.publish()
}

// onMedia turns a call's media alarms into notices.
func (c *Core) onMedia(ev sipua.MediaEvent) {
	switch ev.Kind {
	case sipua.MediaNoRTP:
		c.notify(continuity.Warning, 0, fmt.Sprintf("no audio received on the call for %v", ev.Silence.Round(1e9)))
	case sipua.MediaRTPResumed:
		c.notify(continuity.Cleared, 0, "audio received on the call again")
	case sipua.MediaQuality:
		// Keeps the saved RTP position fresh, and catches a media change
		// that no call event reported (BC-30).
		c.saved.checkpoint(ev.CallID)
	}
}

// Dial calls number through the current site's SIP Server, or through any
// site the endpoint is registered with (outbound calls may use either, BC-2).
func (c *Core) Dial(ctx context.Context, number string) error {
	ep, err := c.anyEndpoint()
	if err != nil {
		return err
	}
	c.mu.Lock()
	site := c.st.Site
	registered := site != 0 && c.st.Sites[site-1].SIP.State == sipua.RegistrationRegistered.String()
	c.mu.Unlock()
	opts := sipua.DialOptions{}
	if registered {
		opts.Site = siteName(site)
	}
	if _, err := ep.Dial(number, opts); err != nil {
		return fmt.Errorf("call %s: %w", number, err)
	}
	return ctx.Err()
}

func (c *Core) anyEndpoint() (*sipua.Endpoint, error) {
	c.mu.Lock()
	ep := c.ep
	c.mu.Unlock()
	if ep == nil || c.closing.Load() {
		return nil, ErrNoEndpoint
	}
	return ep, nil
}

func (c *Core) call(id string) (*sipua.Call, error) {
	ep, err := c.anyEndpoint()
	if err != nil {
		return nil, err
	}
	call, ok := ep.Call(id)
	if !ok {
		return nil, fmt.Errorf("call %s: %w", id, ErrNoCall)
	}
	return call, nil
}

// onCallDo runs one call intent, wrapping its error with the call and the intent.
func (c *Core) onCallDo(id, what string, do func(*sipua.Call) error) error {
	call, err := c.call(id)
	if err != nil {
		return err
	}
	if err := do(call); err != nil {
		return fmt.Errorf("%s call %s: %w", what, id, err)
	}
	return nil
}

// Answer answers a ringing call; a call in progress is held first (call
// waiting). The ringtone stops first, its device closed, so that the call's
// audio can open the same device.
func (c *Core) Answer(id string) error {
	call, err := c.call(id)
	if err != nil {
		return err
	}
	c.stopRingingFor(id)
	if err := call.Answer(); err != nil {
		c.answerFailed(id)
		return fmt.Errorf("answer call %s: %w", id, err)
	}
	return nil
}

// Reject turns a ringing call down (486 Busy Here).
func (c *Core) Reject(id string) error {
	return c.onCallDo(id, "reject", func(call *sipua.Call) error { return call.Reject(0) })
}

// Hangup ends a call in any state.
func (c *Core) Hangup(id string) error {
	return c.onCallDo(id, "hang up", (*sipua.Call).Hangup)
}

// Hold puts a call on hold.
func (c *Core) Hold(id string) error {
	return c.onCallDo(id, "hold", (*sipua.Call).Hold)
}

// Resume takes a call off hold.
func (c *Core) Resume(id string) error {
	return c.onCallDo(id, "resume", (*sipua.Call).Resume)
}

// Mute stops (or restarts) sending the microphone on a call.
func (c *Core) Mute(id string, on bool) error {
	return c.onCallDo(id, "mute", func(call *sipua.Call) error { return call.Mute(on) })
}

// SendDTMF sends digits on a call (RFC 4733).
func (c *Core) SendDTMF(id, digits string) error {
	return c.onCallDo(id, "send DTMF on", func(call *sipua.Call) error { return call.SendDTMF(digits) })
}

// Transfer hands a call over to target (blind transfer).
func (c *Core) Transfer(id, target string) error {
	return c.onCallDo(id, "transfer", func(call *sipua.Call) error { return call.Transfer(target) })
}

// AttendedTransfer joins a call with another one the agent made (the consultation call).
func (c *Core) AttendedTransfer(id, consultID string) error {
	consult, err := c.call(consultID)
	if err != nil {
		return err
	}
	return c.onCallDo(id, "transfer", func(call *sipua.Call) error { return call.AttendedTransfer(consult) })
}
