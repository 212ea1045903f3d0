package sdp

import (
	"bytes"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	psdp "github.com/pion/sdp/v3"
)

// maxBody bounds what Parse reads: an audio offer is well under 4 KiB.
const maxBody = 64 << 10

// Description is the peer's SDP reduced to its first usable audio stream.
type Description struct {
	SessionID uint64
	Version   uint64

	Index     int        // position of the audio stream among the m= lines
	Address   netip.Addr // connection address of the audio stream
	Port      int
	RTCP      netip.AddrPort // from a=rtcp, else the next port up
	RTCPMux   bool
	Proto     string  // "RTP/AVP", "RTP/SAVP", "RTP/AVPF" or "RTP/SAVPF"
	Codecs    []Codec // the offered formats in the peer's order; unknown static ones carry no name
	Direction Direction
	PTime     time.Duration // 0 when the peer gave none
	Crypto    []Crypto      // usable a=crypto lines, in the peer's order

	media []psdp.MediaName // every m= line, to reject the others in an answer
}

// Secure reports whether the audio stream's profile is SRTP.
func (d *Description) Secure() bool { return strings.Contains(d.Proto, "SAVP") }

// OnHold reports whether the peer holds the old way, with c=0.0.0.0 (RFC
// 3264 section 8.4), which means it wants to receive nothing.
func (d *Description) OnHold() bool { return d.Address.IsUnspecified() }

// Parse reads an SDP body and picks its first audio stream with an RTP
// profile and a non-zero port. Anything malformed, or a body without such
// a stream, gives a *NotAcceptableError.
func Parse(body []byte) (*Description, error) {
	if len(body) > maxBody {
		return nil, malformed("body of %d bytes", len(body))
	}
	if !bytes.HasPrefix(body, []byte("v=0")) {
		return nil, malformed("no v=0 line first")
	}
	var s psdp.SessionDescription
	if err := s.Unmarshal(body); err != nil {
		return nil, malformed("%v", err)
	}
	d := &Description{SessionID: s.Origin.SessionID, Version: s.Origin.SessionVersion, Index: -1}
	for i, m := range s.MediaDescriptions {
		if m.MediaName.Port.Value < 0 || m.MediaName.Port.Value > 65535 {
			return nil, malformed("m= line %d: port %d", i, m.MediaName.Port.Value)
		}
		if len(m.MediaName.Formats) == 0 || len(m.MediaName.Protos) == 0 {
			return nil, malformed("m= line %d: no formats", i)
		}
		d.media = append(d.media, m.MediaName)
		if d.Index < 0 && m.MediaName.Media == "audio" && m.MediaName.Port.Value != 0 && rtpProfile(m.MediaName.Protos) {
			if err := d.readAudio(&s, m); err != nil {
				return nil, err
			}
			d.Index = i
		}
	}
	if d.Index < 0 {
		return nil, notAcceptable(WarnMediaNotAvailable, ErrNoAudio, "no audio stream over RTP/AVP or RTP/SAVP")
	}
	return d, nil
}

func rtpProfile(protos []string) bool {
	switch strings.Join(protos, "/") {
	case "RTP/AVP", "RTP/SAVP", "RTP/AVPF", "RTP/SAVPF":
		return true
	}
	return false
}

func (d *Description) readAudio(s *psdp.SessionDescription, m *psdp.MediaDescription) error {
	d.Proto = strings.Join(m.MediaName.Protos, "/")
	d.Port = m.MediaName.Port.Value

	conn := m.ConnectionInformation
	if conn == nil {
		conn = s.ConnectionInformation
	}
	addr, err := connectionAddress(conn)
	if err != nil {
		return err
	}
	d.Address = addr
	d.RTCP = netip.AddrPortFrom(addr, uint16(d.Port+1))
	if d.Port == 65535 {
		d.RTCP = netip.AddrPortFrom(addr, uint16(d.Port))
	}

	for _, f := range m.MediaName.Formats {
		pt, err := strconv.ParseUint(f, 10, 7)
		if err != nil {
			return malformed("audio format %q", f)
		}
		if slices.ContainsFunc(d.Codecs, func(c Codec) bool { return c.PayloadType == uint8(pt) }) {
			return malformed("audio format %d listed twice", pt)
		}
		d.Codecs = append(d.Codecs, staticCodec(uint8(pt)))
	}

	d.Direction = SendRecv
	if dir, ok := directionAttr(s.Attributes); ok {
		d.Direction = dir
	}
	if dir, ok := directionAttr(m.Attributes); ok {
		d.Direction = dir
	}

	for _, a := range m.Attributes {
		var err error
		switch a.Key {
		case "rtpmap":
			err = d.readRtpmap(a.Value)
		case "fmtp":
			err = d.readFmtp(a.Value)
		case "ptime":
			ms, perr := strconv.ParseUint(strings.TrimSpace(a.Value), 10, 16)
			if perr != nil || ms == 0 || ms > 1000 {
				return malformed("ptime %q", a.Value)
			}
			d.PTime = time.Duration(ms) * time.Millisecond
		case "rtcp-mux":
			d.RTCPMux = true
		case "rtcp":
			err = d.readRTCP(a.Value)
		case "crypto":
			// Unusable lines are skipped: the peer may offer others.
			if c, cerr := ParseCrypto(a.Value); cerr == nil {
				d.Crypto = append(d.Crypto, c)
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func connectionAddress(c *psdp.ConnectionInformation) (netip.Addr, error) {
	if c == nil || c.Address == nil {
		return netip.Addr{}, malformed("audio stream without a connection address")
	}
	if c.NetworkType != "IN" {
		return netip.Addr{}, notAcceptable(WarnIncompatibleAddress, ErrMalformed, "network type %q", c.NetworkType)
	}
	addr, err := netip.ParseAddr(c.Address.Address)
	if err != nil {
		return netip.Addr{}, notAcceptable(WarnIncompatibleAddress, ErrMalformed, "connection address %q", c.Address.Address)
	}
	switch {
	case c.AddressType == "IP4" && addr.Is4(), c.AddressType == "IP6" && addr.Is6() && addr.Zone() == "":
	default:
		return netip.Addr{}, notAcceptable(WarnIncompatibleAddress, ErrMalformed, "connection address %s %s", c.AddressType, c.Address.Address)
	}
	if addr.IsMulticast() {
		return netip.Addr{}, notAcceptable(WarnIncompatibleAddress, ErrMalformed, "multicast address %s", addr)
	}
	return addr, nil
}

func directionAttr(attrs []psdp.Attribute) (Direction, bool) {
	for _, a := range attrs {
		if d, err := ParseDirection(a.Key); err == nil {
			return d, true
		}
	}
	return 0, false
}

// staticCodec names the static payload types this package can use; the
// others stay nameless until an rtpmap names them.
func staticCodec(pt uint8) Codec {
	switch pt {
	case PCMU.PayloadType:
		return PCMU
	case PCMA.PayloadType:
		return PCMA
	}
	return Codec{PayloadType: pt}
}

func (d *Description) codec(pt uint64) *Codec {
	for i := range d.Codecs {
		if uint64(d.Codecs[i].PayloadType) == pt {
			return &d.Codecs[i]
		}
	}
	return nil
}

// readRtpmap reads "<pt> <name>/<rate>[/<channels>]". A map for a format
// that is not on the m= line is ignored, as RFC 4566 allows.
func (d *Description) readRtpmap(v string) error {
	ptStr, enc, ok := strings.Cut(strings.TrimSpace(v), " ")
	if !ok {
		return malformed("rtpmap %q", v)
	}
	pt, err := strconv.ParseUint(ptStr, 10, 7)
	if err != nil {
		return malformed("rtpmap %q", v)
	}
	parts := strings.Split(strings.TrimSpace(enc), "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" {
		return malformed("rtpmap %q", v)
	}
	rate, err := strconv.ParseUint(parts[1], 10, 32)
	if err != nil || rate == 0 {
		return malformed("rtpmap %q: clock rate", v)
	}
	channels := 0
	if len(parts) == 3 {
		n, err := strconv.ParseUint(parts[2], 10, 8)
		if err != nil || n == 0 {
			return malformed("rtpmap %q: channels", v)
		}
		channels = int(n)
	}
	c := d.codec(pt)
	if c == nil {
		return nil
	}
	fmtp := c.Fmtp
	*c = Codec{PayloadType: uint8(pt), Name: parts[0], ClockRate: uint32(rate), Channels: channels, Fmtp: fmtp}
	return nil
}

// readFmtp reads "<pt> <parameters>".
func (d *Description) readFmtp(v string) error {
	ptStr, params, _ := strings.Cut(strings.TrimSpace(v), " ")
	pt, err := strconv.ParseUint(ptStr, 10, 7)
	if err != nil {
		return malformed("fmtp %q", v)
	}
	if c := d.codec(pt); c != nil {
		c.Fmtp = strings.TrimSpace(params)
	}
	return nil
}

// readRTCP reads RFC 3605 "<port> [IN IP4 <address>]".
func (d *Description) readRTCP(v string) error {
	f := strings.Fields(v)
	if len(f) != 1 && len(f) != 4 {
		return malformed("rtcp %q", v)
	}
	port, err := strconv.ParseUint(f[0], 10, 16)
	if err != nil || port == 0 {
		return malformed("rtcp %q", v)
	}
	addr := d.Address
	if len(f) == 4 {
		addr, err = connectionAddress(&psdp.ConnectionInformation{NetworkType: f[1], AddressType: f[2], Address: &psdp.Address{Address: f[3]}})
		if err != nil {
			return err
		}
	}
	d.RTCP = netip.AddrPortFrom(addr, uint16(port))
	return nil
}
