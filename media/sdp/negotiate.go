package sdp

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"time"

	psdp "github.com/pion/sdp/v3"
)

// DefaultPTime is the packet duration we ask for and send by default.
const DefaultPTime = 20 * time.Millisecond

// Local is our side of the audio stream of one call. It is a plain value
// that the call layer keeps for the life of the dialog (and stores with a
// saved call): Offer and Answer update SessionID, Version and Crypto in
// it, so that every SDP of the dialog keeps the o= session and raises its
// version when the body changes (RFC 3264 section 8).
type Local struct {
	Username  string // o= user name; "-" when empty
	SessionID uint64 // o= session id; chosen at the first SDP when 0
	Version   uint64 // o= session version

	Address  netip.Addr // where we receive media (c= and o=)
	Port     int        // our RTP port
	RTCPPort int        // our RTCP port; 0 means Port+1, the RTP default
	RTCPMux  bool       // offer or accept RTP and RTCP on one port (RFC 5761)

	Codecs    []Codec       // voice formats in our order of preference; nil means PCMU, PCMA
	NoDTMF    bool          // leave telephone-event out
	Direction Direction     // SendRecv, or SendOnly/Inactive to hold
	PTime     time.Duration // the packet duration we ask the peer for; 0 means DefaultPTime

	// SRTP makes our offers RTP/SAVP with an SDES key and refuses peers'
	// offers without one. An RTP/SAVP offer is accepted either way.
	SRTP   bool
	Crypto Crypto // our SRTP key, made when first needed and kept for the dialog

	lastBody [sha256.Size]byte // the last body minus its version, to see a change
}

func (l *Local) codecs() []Codec {
	if l.Codecs == nil {
		return []Codec{PCMU, PCMA}
	}
	return l.Codecs
}

// offered returns the formats of our offer: the voice codecs, then a
// telephone-event for each of their clock rates that has one.
func (l *Local) offered() ([]Codec, error) {
	voice := l.codecs()
	if len(voice) == 0 {
		return nil, fmt.Errorf("sdp: no codecs to offer")
	}
	out := slices.Clone(voice)
	if !l.NoDTMF {
		for _, te := range []Codec{TelephoneEvent, TelephoneEvent48} {
			if slices.ContainsFunc(voice, func(c Codec) bool { return c.ClockRate == te.ClockRate }) {
				out = append(out, te)
			}
		}
	}
	for i, c := range out {
		if c.Name == "" || c.ClockRate == 0 || c.PayloadType > 127 {
			return nil, fmt.Errorf("sdp: codec %v: incomplete", c)
		}
		if i < len(voice) && c.IsDTMF() {
			return nil, fmt.Errorf("sdp: telephone-event among the voice codecs: set NoDTMF instead")
		}
		if slices.ContainsFunc(out[:i], func(o Codec) bool { return o.PayloadType == c.PayloadType }) {
			return nil, fmt.Errorf("sdp: payload type %d used twice", c.PayloadType)
		}
	}
	return out, nil
}

func (l *Local) check() error {
	if !l.Address.IsValid() || l.Address.Zone() != "" {
		return fmt.Errorf("sdp: local address %v: not usable", l.Address)
	}
	if l.Port <= 0 || l.Port > 65535 || l.RTCPPort < 0 || l.RTCPPort > 65535 {
		return fmt.Errorf("sdp: local ports %d/%d: out of range", l.Port, l.RTCPPort)
	}
	if l.Direction > Inactive {
		return fmt.Errorf("sdp: local %v", l.Direction)
	}
	return nil
}

func (l *Local) ptime() time.Duration {
	if l.PTime <= 0 {
		return DefaultPTime
	}
	return l.PTime
}

func (l *Local) ensureCrypto(suite string) error {
	if l.Crypto.Valid() && l.Crypto.Suite == suite {
		return nil
	}
	c, err := NewCrypto(suite)
	if err != nil {
		return err
	}
	l.Crypto = c
	return nil
}

// Offer builds our offer: one audio stream with our codecs,
// telephone-event, ptime and direction, RTP/SAVP with our key when SRTP.
func Offer(l *Local) ([]byte, error) {
	if err := l.check(); err != nil {
		return nil, err
	}
	formats, err := l.offered()
	if err != nil {
		return nil, err
	}
	proto := "RTP/AVP"
	var crypto *Crypto
	if l.SRTP {
		if err := l.ensureCrypto(SuiteAES128SHA1_80); err != nil {
			return nil, err
		}
		proto, crypto = "RTP/SAVP", &l.Crypto
	}
	m := l.audio(proto, formats, l.Direction, l.RTCPMux, crypto)
	return l.marshal([]*psdp.MediaDescription{m})
}

// Answer answers the peer's offer: the codecs both sides have, in our
// order of preference with the peer's payload types; the direction that
// fits both; rtcp-mux if both want it; SRTP if the offer is RTP/SAVP. It
// returns the answer body and the negotiated media. A refusal is a
// *NotAcceptableError.
func Answer(l *Local, offer []byte) ([]byte, Media, error) {
	if err := l.check(); err != nil {
		return nil, Media{}, err
	}
	d, err := Parse(offer)
	if err != nil {
		return nil, Media{}, err
	}
	ours, err := l.offered()
	if err != nil {
		return nil, Media{}, err
	}

	var common []Codec // the formats of the answer, with the peer's payload types
	for _, c := range ours {
		if c.IsDTMF() {
			continue
		}
		if i := slices.IndexFunc(d.Codecs, c.Same); i >= 0 {
			a := c
			a.PayloadType = d.Codecs[i].PayloadType
			common = append(common, a)
		}
	}
	if len(common) == 0 {
		return nil, Media{}, notAcceptable(WarnIncompatibleFormat, ErrNoCommonCodec, "offered %v", formatNames(d.Codecs))
	}
	if !l.NoDTMF {
		for _, c := range d.Codecs {
			if c.IsDTMF() && slices.ContainsFunc(common, func(v Codec) bool { return v.ClockRate == c.ClockRate }) {
				common = append(common, Codec{PayloadType: c.PayloadType, Name: TelephoneEvent.Name, ClockRate: c.ClockRate, Fmtp: TelephoneEvent.Fmtp})
			}
		}
	}

	m := Media{
		Remote:    netip.AddrPortFrom(d.Address, uint16(d.Port)),
		RTCPMux:   l.RTCPMux && d.RTCPMux,
		Send:      common[0],
		SendDTMF:  dtmfFor(common, common[0].ClockRate),
		Recv:      common,
		Direction: Negotiate(l.Direction, peerDirection(d)),
		PTime:     peerPTime(d),
	}
	m.RemoteRTCP = d.RTCP
	if m.RTCPMux {
		m.RemoteRTCP = m.Remote
	}

	var crypto *Crypto
	switch {
	case d.Secure():
		if len(d.Crypto) == 0 {
			return nil, Media{}, notAcceptable(WarnIncompatibleProtocol, ErrSecurity, "%s without a usable a=crypto", d.Proto)
		}
		remote := d.Crypto[0]
		if err := l.ensureCrypto(remote.Suite); err != nil {
			return nil, Media{}, err
		}
		l.Crypto.Tag = remote.Tag
		m.Secure, m.LocalCrypto, m.RemoteCrypto = true, l.Crypto, remote
		crypto = &l.Crypto
	case l.SRTP:
		return nil, Media{}, notAcceptable(WarnIncompatibleProtocol, ErrSecurity, "SRTP required, offer is %s", d.Proto)
	}

	// Our stream mirrors the chosen one; every other m= line is refused
	// with port 0, as RFC 3264 section 6 requires.
	mds := make([]*psdp.MediaDescription, len(d.media))
	for i, mn := range d.media {
		mn.Port = psdp.RangedPort{Value: 0}
		mds[i] = &psdp.MediaDescription{MediaName: mn}
	}
	mds[d.Index] = l.audio(d.Proto, common, m.Direction, m.RTCPMux, crypto)
	body, err := l.marshal(mds)
	if err != nil {
		return nil, Media{}, err
	}
	return body, m, nil
}

// ParseAnswer reads the peer's answer to our last Offer from l and
// returns the negotiated media. A refusal is a *NotAcceptableError (the
// SIP layer then ends the dialog).
func ParseAnswer(l *Local, answer []byte) (Media, error) {
	d, err := Parse(answer)
	if err != nil {
		return Media{}, err
	}
	if d.Index != 0 {
		return Media{}, malformed("the audio stream moved to m= line %d", d.Index)
	}
	ours, err := l.offered()
	if err != nil {
		return Media{}, err
	}

	m := Media{
		Remote:    netip.AddrPortFrom(d.Address, uint16(d.Port)),
		RTCPMux:   l.RTCPMux && d.RTCPMux,
		Direction: Negotiate(l.Direction, peerDirection(d)),
		PTime:     peerPTime(d),
	}
	m.RemoteRTCP = d.RTCP
	if m.RTCPMux {
		m.RemoteRTCP = m.Remote
	}
	// We send with the answer's payload types, and accept both the
	// answer's and ours, in case the peer sends with the numbers we offered.
	var sendable []Codec
	for _, c := range d.Codecs {
		i := slices.IndexFunc(ours, c.Same)
		if i < 0 {
			continue
		}
		c.Fmtp = ours[i].Fmtp
		sendable = append(sendable, c)
		m.Recv = addCodec(m.Recv, ours[i])
		m.Recv = addCodec(m.Recv, c)
	}
	i := slices.IndexFunc(sendable, func(c Codec) bool { return !c.IsDTMF() })
	if i < 0 {
		return Media{}, notAcceptable(WarnIncompatibleFormat, ErrNoCommonCodec, "answered %v", formatNames(d.Codecs))
	}
	m.Send = sendable[i]
	m.SendDTMF = dtmfFor(sendable, m.Send.ClockRate)

	switch {
	case l.SRTP && d.Secure():
		j := slices.IndexFunc(d.Crypto, func(c Crypto) bool { return c.Tag == l.Crypto.Tag && c.Suite == l.Crypto.Suite })
		if j < 0 {
			return Media{}, notAcceptable(WarnIncompatibleProtocol, ErrSecurity, "no a=crypto answers tag %d %s", l.Crypto.Tag, l.Crypto.Suite)
		}
		m.Secure, m.LocalCrypto, m.RemoteCrypto = true, l.Crypto, d.Crypto[j]
	case l.SRTP != d.Secure():
		return Media{}, notAcceptable(WarnIncompatibleProtocol, ErrSecurity, "answer is %s", d.Proto)
	}
	return m, nil
}

// addCodec adds c unless its payload type is already there.
func addCodec(list []Codec, c Codec) []Codec {
	if slices.ContainsFunc(list, func(o Codec) bool { return o.PayloadType == c.PayloadType }) {
		return list
	}
	return append(list, c)
}

func dtmfFor(codecs []Codec, rate uint32) Codec {
	for _, c := range codecs {
		if c.IsDTMF() && c.ClockRate == rate {
			return c
		}
	}
	return Codec{}
}

// peerDirection is the peer's direction, where c=0.0.0.0 means it
// receives nothing (RFC 3264 section 8.4).
func peerDirection(d *Description) Direction {
	if d.OnHold() {
		return directionOf(d.Direction.Sends(), false)
	}
	return d.Direction
}

func peerPTime(d *Description) time.Duration {
	if d.PTime == 0 {
		return DefaultPTime
	}
	return d.PTime
}

func formatNames(cs []Codec) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		if c.Name == "" {
			out[i] = strconv.Itoa(int(c.PayloadType))
			continue
		}
		out[i] = c.Name + "/" + strconv.Itoa(int(c.ClockRate))
	}
	return out
}

func (l *Local) connection() *psdp.ConnectionInformation {
	typ := "IP4"
	if l.Address.Is6() && !l.Address.Is4In6() {
		typ = "IP6"
	}
	return &psdp.ConnectionInformation{NetworkType: "IN", AddressType: typ, Address: &psdp.Address{Address: l.Address.Unmap().String()}}
}

// audio builds our audio m= line.
func (l *Local) audio(proto string, formats []Codec, dir Direction, mux bool, crypto *Crypto) *psdp.MediaDescription {
	md := &psdp.MediaDescription{
		MediaName: psdp.MediaName{Media: "audio", Port: psdp.RangedPort{Value: l.Port}, Protos: splitProto(proto)},
	}
	for _, c := range formats {
		md.MediaName.Formats = append(md.MediaName.Formats, strconv.Itoa(int(c.PayloadType)))
	}
	for _, c := range formats {
		md.Attributes = append(md.Attributes, psdp.NewAttribute("rtpmap", c.rtpmap()))
		if c.Fmtp != "" {
			md.Attributes = append(md.Attributes, psdp.NewAttribute("fmtp", fmt.Sprintf("%d %s", c.PayloadType, c.Fmtp)))
		}
	}
	md.Attributes = append(md.Attributes, psdp.NewAttribute("ptime", strconv.Itoa(int(l.ptime()/time.Millisecond))))
	if mux {
		md.Attributes = append(md.Attributes, psdp.NewPropertyAttribute("rtcp-mux"))
	} else if l.RTCPPort != 0 && l.RTCPPort != l.Port+1 {
		md.Attributes = append(md.Attributes, psdp.NewAttribute("rtcp", strconv.Itoa(l.RTCPPort)))
	}
	if crypto != nil {
		md.Attributes = append(md.Attributes, psdp.NewAttribute("crypto", crypto.Value()))
	}
	md.Attributes = append(md.Attributes, psdp.NewPropertyAttribute(dir.String()))
	return md
}

func splitProto(p string) []string {
	var out []string
	for start, i := 0, 0; i <= len(p); i++ {
		if i == len(p) || p[i] == '/' {
			out = append(out, p[start:i])
			start = i + 1
		}
	}
	return out
}

// marshal writes the session with our origin and the m= lines. The
// version rises when anything but the version differs from our last SDP.
func (l *Local) marshal(mds []*psdp.MediaDescription) ([]byte, error) {
	user := l.Username
	if user == "" {
		user = "-"
	}
	conn := l.connection()
	s := &psdp.SessionDescription{
		Origin: psdp.Origin{
			Username: user, SessionID: l.SessionID, NetworkType: "IN",
			AddressType: conn.AddressType, UnicastAddress: conn.Address.Address,
		},
		SessionName:           "tandem",
		ConnectionInformation: conn,
		TimeDescriptions:      []psdp.TimeDescription{{}},
		MediaDescriptions:     mds,
	}
	body, err := s.Marshal()
	if err != nil {
		return nil, fmt.Errorf("sdp: marshal: %w", err)
	}
	sum := sha256.Sum256(body) // the version is still out of it
	switch {
	case l.SessionID == 0:
		var b [8]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, fmt.Errorf("sdp: session id: %w", err)
		}
		// Keep it within 63 bits: some stacks read it as a signed number.
		l.SessionID = binary.BigEndian.Uint64(b[:])>>1 | 1
		l.Version = 1
		s.Origin.SessionID = l.SessionID
		// The session id is part of the body: hash it again with it.
		if body, err = s.Marshal(); err != nil {
			return nil, fmt.Errorf("sdp: marshal: %w", err)
		}
		sum = sha256.Sum256(body)
	case sum != l.lastBody:
		l.Version++
	}
	l.lastBody = sum
	s.Origin.SessionVersion = l.Version
	body, err = s.Marshal()
	if err != nil {
		return nil, fmt.Errorf("sdp: marshal: %w", err)
	}
	return body, nil
}
