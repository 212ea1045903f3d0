package sipua

import (
	"fmt"
	"time"

	"github.com/tandem-softphone/tandem/media/rtpstream"
)

// Event is something the endpoint tells the application through
// Options.OnEvent. Each kind is its own type; switch on it.
type Event interface {
	isEvent()
}

// RegistrationEvent reports that an account's registration changed state,
// status code or reason. It carries the registration as it now is.
type RegistrationEvent struct {
	Registration
}

func (RegistrationEvent) isEvent() {}

// RegistrationState is where an account's registration stands.
type RegistrationState int

const (
	// RegistrationUnregistered: not registered and not trying, before
	// Start and after Close.
	RegistrationUnregistered RegistrationState = iota
	// RegistrationRegistering: a REGISTER is on its way.
	RegistrationRegistering
	// RegistrationRegistered: the registrar holds our binding.
	RegistrationRegistered
	// RegistrationFailed: the last attempt failed with Code and Reason
	// (Code 0 when no SIP response came, e.g. "registrar unreachable");
	// attempts go on with back-off.
	RegistrationFailed
	// RegistrationExpired: refreshing was stopped (ExpireRegistration) and
	// the binding's lifetime has passed.
	RegistrationExpired
	// RegistrationCertificateError: the registrar's TLS certificate did not
	// verify against the configured name and roots.
	RegistrationCertificateError
)

func (s RegistrationState) String() string {
	switch s {
	case RegistrationUnregistered:
		return "unregistered"
	case RegistrationRegistering:
		return "registering"
	case RegistrationRegistered:
		return "registered"
	case RegistrationFailed:
		return "failed"
	case RegistrationExpired:
		return "expired"
	case RegistrationCertificateError:
		return "certificate error"
	}
	return fmt.Sprintf("RegistrationState(%d)", int(s))
}

// Registration is one account's registration at a moment.
type Registration struct {
	Site      string
	Registrar string
	Transport string
	State     RegistrationState
	// Code and Reason are the last final response's status and reason
	// phrase, or Code 0 and a description when there was no response.
	Code   int
	Reason string
	// ExpiresAt is when the binding runs out at the registrar; zero when
	// none was granted.
	ExpiresAt time.Time
	// NextAttempt is when the next REGISTER is due (a refresh or a retry);
	// zero when none is planned.
	NextAttempt time.Time
	// Contact is the URI we registered.
	Contact string
	// Refreshing is false after ExpireRegistration until resumed.
	Refreshing bool
}

// CallEvent reports that a call changed: its state, hold, mute, transfer
// progress or how it ended. It carries the call as it now is.
type CallEvent struct {
	CallInfo
}

func (CallEvent) isEvent() {}

// DTMFEvent reports a digit the peer sent on a call.
type DTMFEvent struct {
	CallID   string
	Digit    rune          // 0-9, *, #, A-D, or '!' for flash
	Duration time.Duration // how long the key was held; 0 when not told
	// Via is how it came: "rtp" (RFC 4733 telephone-event) or "info"
	// (SIP INFO with application/dtmf-relay).
	Via string
}

func (DTMFEvent) isEvent() {}

// MediaEventKind says what a MediaEvent reports.
type MediaEventKind int

// The kinds of MediaEvent.
const (
	// MediaNoRTP: no RTP has come for Options.NoRTPTimeout although the
	// call should receive it. Silence says for how long.
	MediaNoRTP MediaEventKind = iota + 1
	// MediaRTPResumed: RTP arrives again after MediaNoRTP.
	MediaRTPResumed
	// MediaQuality: the periodic quality report of a call with media,
	// every Options.QualityInterval.
	MediaQuality
)

func (k MediaEventKind) String() string {
	switch k {
	case MediaNoRTP:
		return "no RTP"
	case MediaRTPResumed:
		return "RTP resumed"
	case MediaQuality:
		return "quality"
	}
	return fmt.Sprintf("MediaEventKind(%d)", int(k))
}

// MediaEvent reports on a call's media: an alarm or its quality.
type MediaEvent struct {
	CallID  string
	Kind    MediaEventKind
	Silence time.Duration // MediaNoRTP, MediaRTPResumed
	Stats   rtpstream.Stats
}

func (MediaEvent) isEvent() {}
