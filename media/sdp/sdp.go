// Package sdp negotiates one audio stream by the SDP offer/answer model
// (RFC 3264) on top of github.com/pion/sdp/v3: it builds offers and
// answers for our side, parses the peer's, and reduces both to a Media
// value that an RTP stream runs on.
//
// Only what a SIP softphone needs is modelled: G.711, Opus and
// telephone-event (RFC 4733), a direction for hold, ptime, rtcp-mux,
// a=rtcp (RFC 3605) and SRTP keyed by SDES (RFC 4568). A body this package
// cannot accept gives a *NotAcceptableError, which the SIP layer answers
// with 488 Not Acceptable Here.
package sdp

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Direction is the media direction of one side (RFC 3264 section 5.1),
// always from the point of view of the side that wrote it.
type Direction uint8

// The four directions. The zero value is SendRecv, the default of SDP.
const (
	SendRecv Direction = iota
	SendOnly
	RecvOnly
	Inactive
)

func (d Direction) String() string {
	switch d {
	case SendRecv:
		return "sendrecv"
	case SendOnly:
		return "sendonly"
	case RecvOnly:
		return "recvonly"
	case Inactive:
		return "inactive"
	}
	return fmt.Sprintf("direction(%d)", uint8(d))
}

// ParseDirection reads a direction attribute name.
func ParseDirection(s string) (Direction, error) {
	switch s {
	case "sendrecv":
		return SendRecv, nil
	case "sendonly":
		return SendOnly, nil
	case "recvonly":
		return RecvOnly, nil
	case "inactive":
		return Inactive, nil
	}
	return 0, fmt.Errorf("sdp: unknown direction %q", s)
}

// Sends reports whether a side with this direction sends media.
func (d Direction) Sends() bool { return d == SendRecv || d == SendOnly }

// Receives reports whether a side with this direction receives media.
func (d Direction) Receives() bool { return d == SendRecv || d == RecvOnly }

func directionOf(send, recv bool) Direction {
	switch {
	case send && recv:
		return SendRecv
	case send:
		return SendOnly
	case recv:
		return RecvOnly
	}
	return Inactive
}

// Negotiate returns our direction given what we want (local) and what the
// peer declared (remote): we send only if the peer receives, and receive
// only if the peer sends.
func Negotiate(local, remote Direction) Direction {
	return directionOf(local.Sends() && remote.Receives(), local.Receives() && remote.Sends())
}

// Codec is one RTP payload format.
type Codec struct {
	PayloadType uint8
	Name        string // encoding name as in rtpmap: "PCMU", "opus", "telephone-event"
	ClockRate   uint32 // RTP clock rate in Hz
	Channels    int    // 0 means 1
	Fmtp        string // format parameters, without the payload type
}

// The payload formats this package knows. Dynamic payload types are our
// choice in offers; in answers the offerer's numbers are kept.
var (
	PCMU = Codec{PayloadType: 0, Name: "PCMU", ClockRate: 8000}
	PCMA = Codec{PayloadType: 8, Name: "PCMA", ClockRate: 8000}
	Opus = Codec{PayloadType: 111, Name: "opus", ClockRate: 48000, Channels: 2, Fmtp: "minptime=10;useinbandfec=1"}
	// TelephoneEvent is offered for every clock rate of the offered voice
	// codecs, because RFC 4733 events share the audio's timestamp clock:
	// 101 at 8 kHz, 110 at 48 kHz.
	TelephoneEvent   = Codec{PayloadType: 101, Name: "telephone-event", ClockRate: 8000, Fmtp: "0-16"}
	TelephoneEvent48 = Codec{PayloadType: 110, Name: "telephone-event", ClockRate: 48000, Fmtp: "0-16"}
)

// IsDTMF reports whether c is the telephone-event format.
func (c Codec) IsDTMF() bool { return strings.EqualFold(c.Name, "telephone-event") }

// Same reports whether c and o are the same format, whatever their payload
// types: the encoding name (case-insensitively), clock rate and channels.
func (c Codec) Same(o Codec) bool {
	return strings.EqualFold(c.Name, o.Name) && c.ClockRate == o.ClockRate && max(c.Channels, 1) == max(o.Channels, 1)
}

func (c Codec) rtpmap() string {
	s := fmt.Sprintf("%d %s/%d", c.PayloadType, c.Name, c.ClockRate)
	if c.Channels > 1 {
		s += fmt.Sprintf("/%d", c.Channels)
	}
	return s
}

func (c Codec) String() string {
	s := fmt.Sprintf("%s/%d", c.Name, c.ClockRate)
	if c.Channels > 1 {
		s += fmt.Sprintf("/%d", c.Channels)
	}
	return fmt.Sprintf("%s (pt %d)", s, c.PayloadType)
}

// Media is the outcome of a negotiation: everything an RTP stream needs.
type Media struct {
	Remote     netip.AddrPort // where the peer wants RTP (the address is unspecified when it holds with c=0.0.0.0)
	RemoteRTCP netip.AddrPort // where the peer wants RTCP; equal to Remote when RTCPMux
	RTCPMux    bool

	Send     Codec   // the voice format we send, with the peer's payload type
	SendDTMF Codec   // the telephone-event format we send; Name is empty when the peer takes none at Send's clock rate
	Recv     []Codec // every format, voice and telephone-event, the peer may send us, with the payload types it will use

	Direction Direction     // ours: whether we send and whether we receive
	PTime     time.Duration // the packet duration the peer asked for (20 ms unless it said otherwise)

	// SRTP, when Secure: we encrypt with LocalCrypto and the peer with
	// RemoteCrypto (RFC 4568: each side declares the key it sends with).
	Secure       bool
	LocalCrypto  Crypto
	RemoteCrypto Crypto
}

// HasDTMF reports whether telephone-events can be sent.
func (m Media) HasDTMF() bool { return m.SendDTMF.Name != "" }

// SIP warning codes (RFC 3261 section 20.43) that fit each refusal.
const (
	WarnIncompatibleProtocol = 302
	WarnIncompatibleAddress  = 300
	WarnMediaNotAvailable    = 304
	WarnIncompatibleFormat   = 305
	WarnMisc                 = 399
)

// Reasons for a refusal; match them with errors.Is.
var (
	ErrMalformed     = errors.New("malformed SDP")
	ErrNoAudio       = errors.New("no usable audio stream")
	ErrNoCommonCodec = errors.New("no common codec")
	ErrSecurity      = errors.New("unacceptable media security")
)

// NotAcceptableError is a refusal of the peer's SDP: the SIP layer answers
// it with 488 and a Warning header of code Warn and text Error().
type NotAcceptableError struct {
	Warn   int   // SIP warning code
	Reason error // one of ErrMalformed, ErrNoAudio, ErrNoCommonCodec, ErrSecurity
	Detail string
}

func (e *NotAcceptableError) Error() string {
	if e.Detail == "" {
		return "sdp: " + e.Reason.Error()
	}
	return "sdp: " + e.Reason.Error() + ": " + e.Detail
}

func (e *NotAcceptableError) Unwrap() error { return e.Reason }

func notAcceptable(warn int, reason error, format string, args ...any) *NotAcceptableError {
	return &NotAcceptableError{Warn: warn, Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

func malformed(format string, args ...any) *NotAcceptableError {
	return notAcceptable(WarnMisc, ErrMalformed, format, args...)
}
