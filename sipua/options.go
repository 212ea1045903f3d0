package sipua

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/google/uuid"

	"github.com/tandem-softphone/tandem/audio"
	"github.com/tandem-softphone/tandem/media/rtpstream"
	"github.com/tandem-softphone/tandem/media/sdp"
)

// Options configure an Endpoint. Zero values take the defaults noted.
type Options struct {
	// Accounts are registered all at once, each on its own (BC-2).
	Accounts []Account
	// LocalIP is the address the endpoint listens on and puts in its
	// Contact. Default 127.0.0.1.
	LocalIP string
	// ListenPort is the UDP and TCP port; TLS listens on ListenPort+1.
	// Default 0: free ports picked by the system.
	ListenPort int
	// UserAgent is sent in User-Agent and Server headers. Default "Tandem".
	UserAgent string
	// InstanceID is the +sip.instance of the Contact (RFC 5626), e.g.
	// "urn:uuid:…"; keep it across runs so registrars recognise the device:
	// one that honours it replaces a killed run's binding, and for one that
	// binds by URI alone the first successful REGISTER of each account
	// (and the first after the Contact changed) removes the bindings of
	// this instance that are not our Contact. Default: a random UUID URN.
	InstanceID string
	// Logger defaults to slog.Default().
	Logger *slog.Logger

	// ProbeInterval is how often every registrar is probed with OPTIONS.
	// Default 5 s.
	ProbeInterval time.Duration
	// ProbeTimeout is how long a probe waits for any answer. Default 3 s.
	ProbeTimeout time.Duration
	// RequestTimeout bounds one REGISTER transaction (instead of sipgo's
	// 32 s). Default 8 s.
	RequestTimeout time.Duration
	// MinBackoff and MaxBackoff bound the wait between failed attempts,
	// which doubles from MinBackoff. Defaults 1 s and 30 s.
	MinBackoff time.Duration
	MaxBackoff time.Duration
	// WatchInterval is how often the network addresses and the clock are
	// checked for a change or a wake from sleep. Default 3 s.
	WatchInterval time.Duration
	// CloseTimeout bounds the un-REGISTERs of Close. Default 2 s.
	CloseTimeout time.Duration

	// TLSRootCAs verify registrars' certificates; nil uses the system's.
	TLSRootCAs *x509.CertPool
	// TLSCertificate is presented to peers that connect to our TLS port.
	// Default: a self-signed certificate made at Start.
	TLSCertificate *tls.Certificate

	// Audio is the sound backend every call's stream plays and captures
	// through, one call at a time: the one that talks. Default nil: no
	// devices; calls send silence and what they receive is dropped (the
	// null device). Use audio.NewWAV in tests and headless runs.
	Audio audio.Backend
	// CaptureDevice and PlaybackDevice name the devices of Audio; "" means
	// the backend's default. Endpoint.SetAudioDevices changes them while
	// the Endpoint runs.
	CaptureDevice  string
	PlaybackDevice string
	// Codecs are the voice codecs offered and accepted, in order of
	// preference. Default: PCMU, PCMA.
	Codecs []sdp.Codec
	// RTPPortMin and RTPPortMax bound the media ports; 0 takes any free
	// port.
	RTPPortMin, RTPPortMax int
	// NoRTPTimeout raises MediaNoRTP when a call receives no RTP for this
	// long. Default 5 s; negative: never.
	NoRTPTimeout time.Duration
	// QualityInterval is how often a MediaQuality event reports each call
	// with media. Default 5 s; negative: never.
	QualityInterval time.Duration
	// DTMFDuration is how long each digit of Call.SendDTMF lasts. Default
	// DefaultDTMFDuration.
	DTMFDuration time.Duration

	// AcceptTransfer decides whether a peer's request to transfer a call
	// (an incoming REFER) is carried out; nil accepts every one. A
	// refused request is answered 603 Decline and the call goes on. It
	// runs on the goroutine that serves the REFER: return quickly, and do
	// not wait for the call.
	AcceptTransfer func(TransferRequest) bool

	// Clock defaults to the system clock.
	Clock Clock
	// OnEvent receives every Event, in order, on one goroutine of its own.
	// It must not call Close.
	OnEvent func(Event)
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// normalize checks o and fills in its defaults.
func (o Options) normalize() (Options, error) {
	if len(o.Accounts) == 0 {
		return o, errors.New("no accounts")
	}
	accts := make([]Account, len(o.Accounts))
	seen := make(map[string]bool)
	for i, a := range o.Accounts {
		a, err := a.normalize()
		if err != nil {
			return o, err
		}
		if seen[a.Site] {
			return o, fmt.Errorf("two accounts for site %q", a.Site)
		}
		seen[a.Site] = true
		accts[i] = a
	}
	o.Accounts = accts
	if o.LocalIP == "" {
		o.LocalIP = "127.0.0.1"
	}
	if net.ParseIP(o.LocalIP) == nil {
		return o, fmt.Errorf("LocalIP %q is not an IP address", o.LocalIP)
	}
	if o.ListenPort < 0 || o.ListenPort > 65534 {
		return o, fmt.Errorf("ListenPort %d out of range", o.ListenPort)
	}
	if o.UserAgent == "" {
		o.UserAgent = "Tandem"
	}
	if o.InstanceID == "" {
		o.InstanceID = "urn:uuid:" + uuid.NewString()
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	o.ProbeInterval = orDefault(o.ProbeInterval, 5*time.Second)
	o.ProbeTimeout = orDefault(o.ProbeTimeout, 3*time.Second)
	o.RequestTimeout = orDefault(o.RequestTimeout, 8*time.Second)
	o.MinBackoff = orDefault(o.MinBackoff, time.Second)
	o.MaxBackoff = orDefault(o.MaxBackoff, 30*time.Second)
	o.WatchInterval = orDefault(o.WatchInterval, 3*time.Second)
	o.CloseTimeout = orDefault(o.CloseTimeout, 2*time.Second)
	o.NoRTPTimeout = orDefault(o.NoRTPTimeout, rtpstream.DefaultNoRTPTimeout)
	o.QualityInterval = orDefault(o.QualityInterval, 5*time.Second)
	o.DTMFDuration = orDefault(o.DTMFDuration, DefaultDTMFDuration)
	if o.DTMFDuration < 0 {
		return o, fmt.Errorf("negative DTMFDuration %v", o.DTMFDuration)
	}
	if o.RTPPortMin < 0 || o.RTPPortMax > 65535 || o.RTPPortMin > o.RTPPortMax {
		return o, fmt.Errorf("RTP ports %d-%d out of range", o.RTPPortMin, o.RTPPortMax)
	}
	for _, d := range []time.Duration{o.ProbeInterval, o.ProbeTimeout, o.RequestTimeout, o.MinBackoff, o.MaxBackoff, o.WatchInterval, o.CloseTimeout} {
		if d < 0 {
			return o, fmt.Errorf("negative duration %v", d)
		}
	}
	if o.MinBackoff > o.MaxBackoff {
		return o, fmt.Errorf("MinBackoff %v above MaxBackoff %v", o.MinBackoff, o.MaxBackoff)
	}
	if o.Clock == nil {
		o.Clock = realClock{}
	}
	return o, nil
}
