package sipua

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"net/netip"
	"time"

	"github.com/tandem-softphone/tandem/media/rtpstream"
	"github.com/tandem-softphone/tandem/media/sdp"
)

// The call buffer (BC-25, BC-28, BC-29) is laid out as docs/call-buffer.md
// describes: a fixed header, tagged fields, a CRC-32. It is written by
// hand, field by field, so that a future version can still read the
// buffers of this one whatever becomes of the Go structs.

// Errors of a buffer that cannot be restored; match them with errors.Is.
var (
	// ErrBufferForeign: the bytes are not a buffer of the kind asked for
	// (wrong magic): not ours at all, or a subscription buffer given to
	// RestoreCall and the like.
	ErrBufferForeign = errors.New("sipua: not a buffer of the kind asked for")
	// ErrBufferTruncated: the buffer is shorter than its header says.
	ErrBufferTruncated = errors.New("sipua: buffer truncated")
	// ErrBufferDamaged: the checksum does not match, or the fields do not
	// make a call (or a subscription).
	ErrBufferDamaged = errors.New("sipua: buffer damaged")
	// ErrBufferVersion: the buffer was written by a newer format version.
	ErrBufferVersion = errors.New("sipua: buffer of an unknown version")
)

const (
	bufMagic      = "TNDMCALL"
	bufVersion    = 1
	bufHeaderLen  = len(bufMagic) + 2 + 2 + 4 // magic, version, flags, payload length
	bufTrailerLen = 4                         // CRC-32
	// bufMaxPayload bounds what a decoder accepts: a call is a few KiB.
	bufMaxPayload = 1 << 20
)

// Header flags.
const (
	// bufFlagAnyMediaPort: the stored media ports may be replaced by free
	// ones when they are taken at restore.
	bufFlagAnyMediaPort = 1 << 0
)

// Tags of the call record.
const (
	tagCallID          = 1
	tagDirection       = 2
	tagSite            = 3
	tagUser            = 4
	tagState           = 5
	tagCallFlags       = 6
	tagCreated         = 7
	tagAnswered        = 8
	tagTransferredFrom = 9
	tagReferredBy      = 10
	tagReplaced        = 11
	tagDialog          = 20
	tagLocal           = 21
	tagStream          = 22
	tagReferSub        = 23 // added in version 1: older readers skip it
)

// Bits of tagCallFlags.
const (
	callFlagLocalHold  = 1 << 0
	callFlagRemoteHold = 1 << 1
	callFlagMuted      = 1 << 2
	callFlagMediaUp    = 1 << 3
)

// callRecord is everything a restored call is rebuilt from.
type callRecord struct {
	ID              string
	Direction       CallDirection
	Site            string // the account the call goes through
	User            string // the account's DN, to check the restoring endpoint
	State           CallState
	LocalHold       bool
	RemoteHold      bool
	Muted           bool
	MediaUp         bool
	Created         time.Time
	Answered        time.Time
	TransferredFrom string
	ReferredBy      string
	Replaced        string

	Dialog DialogState
	Local  sdp.Local
	Stream rtpstream.Snapshot
	// Refer is the call's active implicit subscription of a transfer
	// (BC-27); zero when it has none.
	Refer referSubRecord

	AnyMediaPort bool
}

// referRole says which side of a transfer's implicit subscription (RFC
// 3515) the call holds.
type referRole uint8

const (
	// referRoleSubscriber: we sent the REFER; the peer's NOTIFYs report how
	// the transfer goes.
	referRoleSubscriber referRole = 1
	// referRoleNotifier: the peer sent the REFER; we owe it the NOTIFYs.
	referRoleNotifier referRole = 2
)

// referSubRecord is an active transfer subscription of a call.
type referSubRecord struct {
	Role referRole
	// Code is the last status reported: the one the peer last notified
	// (subscriber), or the one we last notified (notifier).
	Code int
}

// Tags of referSubRecord.
const (
	tagReferRole = iota + 1
	tagReferCode
)

func writeReferSub(w *tlvWriter, s *referSubRecord) {
	w.u8(tagReferRole, uint8(s.Role))
	w.u32(tagReferCode, uint32(s.Code))
}

func readReferSub(r *tlvReader, f tlvFields, s *referSubRecord) {
	s.Role = referRole(r.u8(f, tagReferRole))
	code := r.u32(f, tagReferCode)
	if s.Role == 0 || s.Role > referRoleNotifier || code > 699 {
		r.fail(fmt.Errorf("transfer subscription of role %d, status %d", s.Role, code))
	}
	s.Code = int(code)
}

// appendCallBuffer appends rec's buffer to dst.
func appendCallBuffer(dst []byte, rec *callRecord) []byte {
	var w tlvWriter
	w.str(tagCallID, rec.ID)
	w.u8(tagDirection, uint8(rec.Direction))
	w.str(tagSite, rec.Site)
	w.str(tagUser, rec.User)
	w.u8(tagState, uint8(rec.State))
	w.u8(tagCallFlags, bits(rec.LocalHold, callFlagLocalHold)|bits(rec.RemoteHold, callFlagRemoteHold)|
		bits(rec.Muted, callFlagMuted)|bits(rec.MediaUp, callFlagMediaUp))
	w.time(tagCreated, rec.Created)
	w.time(tagAnswered, rec.Answered)
	w.str(tagTransferredFrom, rec.TransferredFrom)
	w.str(tagReferredBy, rec.ReferredBy)
	w.str(tagReplaced, rec.Replaced)
	w.nested(tagDialog, func(w *tlvWriter) { writeDialog(w, &rec.Dialog) })
	w.nested(tagLocal, func(w *tlvWriter) { writeLocal(w, &rec.Local) })
	w.nested(tagStream, func(w *tlvWriter) { writeSnapshot(w, &rec.Stream) })

	if rec.Refer.Role != 0 {
		w.nested(tagReferSub, func(w *tlvWriter) { writeReferSub(w, &rec.Refer) })
	}
	return appendFrame(dst, bufMagic, bufVersion, bits16(rec.AnyMediaPort, bufFlagAnyMediaPort), w.b)
}

// appendFrame appends a buffer of the given kind (magic) and version:
// the header, the payload and the checksum.
func appendFrame(dst []byte, magic string, version, flags uint16, payload []byte) []byte {
	start := len(dst)
	dst = append(dst, magic...)
	dst = binary.BigEndian.AppendUint16(dst, version)
	dst = binary.BigEndian.AppendUint16(dst, flags)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(payload)))
	dst = append(dst, payload...)
	return binary.BigEndian.AppendUint32(dst, crc32.ChecksumIEEE(dst[start:]))
}

// bufKinds names the kinds of buffer by their magic, for errors that
// say what a buffer of the wrong kind is.
var bufKinds = map[string]string{bufMagic: "call", subMagic: "subscription"}

// readFrame checks the frame of a buffer of the kind magic names: the
// magic, the lengths and the checksum. It returns the version, the flags
// and the payload.
func readFrame(buf []byte, magic string) (uint16, uint16, []byte, error) {
	if len(buf) < len(magic) || string(buf[:len(magic)]) != magic {
		if len(buf) >= len(magic) {
			if other, ok := bufKinds[string(buf[:len(magic)])]; ok {
				return 0, 0, nil, fmt.Errorf("%w: a %s buffer, not a %s buffer", ErrBufferForeign, other, bufKinds[magic])
			}
		}
		return 0, 0, nil, ErrBufferForeign
	}
	if len(buf) < bufHeaderLen {
		return 0, 0, nil, fmt.Errorf("%w: %d bytes, header needs %d", ErrBufferTruncated, len(buf), bufHeaderLen)
	}
	version := binary.BigEndian.Uint16(buf[8:])
	flags := binary.BigEndian.Uint16(buf[10:])
	n := binary.BigEndian.Uint32(buf[12:])
	if n > bufMaxPayload {
		return 0, 0, nil, fmt.Errorf("%w: payload of %d bytes", ErrBufferDamaged, n)
	}
	total := bufHeaderLen + int(n) + bufTrailerLen
	switch {
	case len(buf) < total:
		return 0, 0, nil, fmt.Errorf("%w: %d bytes of %d", ErrBufferTruncated, len(buf), total)
	case len(buf) > total:
		return 0, 0, nil, fmt.Errorf("%w: %d bytes after the buffer", ErrBufferDamaged, len(buf)-total)
	}
	if sum := binary.BigEndian.Uint32(buf[total-bufTrailerLen:]); sum != crc32.ChecksumIEEE(buf[:total-bufTrailerLen]) {
		return 0, 0, nil, fmt.Errorf("%w: checksum mismatch", ErrBufferDamaged)
	}
	return version, flags, buf[bufHeaderLen : total-bufTrailerLen], nil
}

// decodeCallBuffer reads a call buffer of this or an older version.
func decodeCallBuffer(buf []byte) (*callRecord, error) {
	version, flags, payload, err := readFrame(buf, bufMagic)
	if err != nil {
		return nil, err
	}
	// Version 1 is the only one so far; a new version adds its case here
	// and keeps this one.
	if version != 1 {
		return nil, fmt.Errorf("%w: version %d, this build reads 1", ErrBufferVersion, version)
	}
	rec, err := decodeV1(payload)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBufferDamaged, err)
	}
	rec.AnyMediaPort = flags&bufFlagAnyMediaPort != 0
	return rec, nil
}

func decodeV1(payload []byte) (*callRecord, error) {
	r := &tlvReader{}
	f := r.parse(payload)
	rec := &callRecord{
		ID:              f.str(tagCallID),
		Direction:       CallDirection(r.u8(f, tagDirection)),
		Site:            f.str(tagSite),
		User:            f.str(tagUser),
		State:           CallState(r.u8(f, tagState)),
		Created:         r.time(f, tagCreated),
		Answered:        r.time(f, tagAnswered),
		TransferredFrom: f.str(tagTransferredFrom),
		ReferredBy:      f.str(tagReferredBy),
		Replaced:        f.str(tagReplaced),
	}
	flags := r.u8(f, tagCallFlags)
	rec.LocalHold = flags&callFlagLocalHold != 0
	rec.RemoteHold = flags&callFlagRemoteHold != 0
	rec.Muted = flags&callFlagMuted != 0
	rec.MediaUp = flags&callFlagMediaUp != 0
	readDialog(r, r.parse(f.one(tagDialog)), &rec.Dialog)
	readLocal(r, r.parse(f.one(tagLocal)), &rec.Local)
	readSnapshot(r, r.parse(f.one(tagStream)), &rec.Stream)
	if f[tagReferSub] != nil {
		readReferSub(r, r.parse(f.one(tagReferSub)), &rec.Refer)
	}
	if r.err != nil {
		return nil, r.err
	}
	return rec, checkRecord(rec)
}

// checkRecord refuses a record that cannot be a connected call.
func checkRecord(rec *callRecord) error {
	d := &rec.Dialog
	switch {
	case rec.ID == "" || rec.Site == "":
		return errors.New("no call ID or site")
	case rec.Direction != Outgoing && rec.Direction != Incoming:
		return fmt.Errorf("direction %d", rec.Direction)
	case !rec.State.established():
		return fmt.Errorf("state %v is not connected", rec.State)
	case d.CallID == "" || d.LocalTag == "" || d.RemoteTag == "":
		return errors.New("dialog without Call-ID or tags")
	case d.LocalURI == "" || d.RemoteURI == "" || d.RemoteTarget == "" || d.LocalContact == "":
		return errors.New("dialog without addresses")
	case !rec.Stream.LocalAddr.IsValid() || rec.Stream.LocalAddr.Port() == 0:
		return errors.New("media without a local port")
	case rec.MediaUp != rec.Stream.Started:
		return errors.New("the call's media and its stream disagree on having started")
	}
	return nil
}

// Tags of DialogState.
const (
	tagDlgCallID = iota + 1
	tagDlgLocalTag
	tagDlgRemoteTag
	tagDlgLocalURI
	tagDlgLocalName
	tagDlgRemoteURI
	tagDlgRemoteName
	tagDlgLocalCSeq
	tagDlgRemoteCSeq
	tagDlgRoute // repeated, in order
	tagDlgRemoteTarget
	tagDlgLocalContact
	tagDlgTransport
)

func writeDialog(w *tlvWriter, d *DialogState) {
	w.str(tagDlgCallID, d.CallID)
	w.str(tagDlgLocalTag, d.LocalTag)
	w.str(tagDlgRemoteTag, d.RemoteTag)
	w.str(tagDlgLocalURI, d.LocalURI)
	w.str(tagDlgLocalName, d.LocalName)
	w.str(tagDlgRemoteURI, d.RemoteURI)
	w.str(tagDlgRemoteName, d.RemoteName)
	w.u32(tagDlgLocalCSeq, d.LocalCSeq)
	w.u32(tagDlgRemoteCSeq, d.RemoteCSeq)
	for _, r := range d.RouteSet {
		w.str(tagDlgRoute, r)
	}
	w.str(tagDlgRemoteTarget, d.RemoteTarget)
	w.str(tagDlgLocalContact, d.LocalContact)
	w.str(tagDlgTransport, d.Transport)
}

func readDialog(r *tlvReader, f tlvFields, d *DialogState) {
	d.CallID = f.str(tagDlgCallID)
	d.LocalTag = f.str(tagDlgLocalTag)
	d.RemoteTag = f.str(tagDlgRemoteTag)
	d.LocalURI = f.str(tagDlgLocalURI)
	d.LocalName = f.str(tagDlgLocalName)
	d.RemoteURI = f.str(tagDlgRemoteURI)
	d.RemoteName = f.str(tagDlgRemoteName)
	d.LocalCSeq = r.u32(f, tagDlgLocalCSeq)
	d.RemoteCSeq = r.u32(f, tagDlgRemoteCSeq)
	for _, v := range f[tagDlgRoute] {
		d.RouteSet = append(d.RouteSet, string(v))
	}
	d.RemoteTarget = f.str(tagDlgRemoteTarget)
	d.LocalContact = f.str(tagDlgLocalContact)
	d.Transport = f.str(tagDlgTransport)
}

// Tags of sdp.Local.
const (
	tagLocUsername = iota + 1
	tagLocSessionID
	tagLocVersion
	tagLocAddress
	tagLocPort
	tagLocRTCPPort
	tagLocFlags
	tagLocCodec // repeated, in order of preference
	tagLocDirection
	tagLocPTime
	tagLocCrypto
)

// Bits of tagLocFlags.
const (
	locFlagRTCPMux = 1 << 0
	locFlagNoDTMF  = 1 << 1
	locFlagSRTP    = 1 << 2
	// locFlagCodecs: Codecs is set (possibly empty); without it Codecs is
	// nil, which means sdp's defaults.
	locFlagCodecs = 1 << 3
)

func writeLocal(w *tlvWriter, l *sdp.Local) {
	w.str(tagLocUsername, l.Username)
	w.u64(tagLocSessionID, l.SessionID)
	w.u64(tagLocVersion, l.Version)
	w.str(tagLocAddress, addrText(l.Address))
	w.u32(tagLocPort, uint32(l.Port))
	w.u32(tagLocRTCPPort, uint32(l.RTCPPort))
	w.u8(tagLocFlags, bits(l.RTCPMux, locFlagRTCPMux)|bits(l.NoDTMF, locFlagNoDTMF)|
		bits(l.SRTP, locFlagSRTP)|bits(l.Codecs != nil, locFlagCodecs))
	for _, c := range l.Codecs {
		w.nested(tagLocCodec, func(w *tlvWriter) { writeCodec(w, c) })
	}
	w.u8(tagLocDirection, uint8(l.Direction))
	w.i64(tagLocPTime, int64(l.PTime))
	writeCrypto(w, tagLocCrypto, l.Crypto)
}

func readLocal(r *tlvReader, f tlvFields, l *sdp.Local) {
	l.Username = f.str(tagLocUsername)
	l.SessionID = r.u64(f, tagLocSessionID)
	l.Version = r.u64(f, tagLocVersion)
	l.Address = r.addr(f, tagLocAddress)
	l.Port = int(r.u32(f, tagLocPort))
	l.RTCPPort = int(r.u32(f, tagLocRTCPPort))
	flags := r.u8(f, tagLocFlags)
	l.RTCPMux = flags&locFlagRTCPMux != 0
	l.NoDTMF = flags&locFlagNoDTMF != 0
	l.SRTP = flags&locFlagSRTP != 0
	if flags&locFlagCodecs != 0 {
		l.Codecs = []sdp.Codec{}
	}
	for _, v := range f[tagLocCodec] {
		l.Codecs = append(l.Codecs, readCodec(r, r.parse(v)))
	}
	l.Direction = sdp.Direction(r.u8(f, tagLocDirection))
	l.PTime = time.Duration(r.i64(f, tagLocPTime))
	l.Crypto = readCrypto(r, f, tagLocCrypto)
	if l.Port > 65535 || l.RTCPPort > 65535 {
		r.fail(fmt.Errorf("SDP port %d/%d", l.Port, l.RTCPPort))
	}
}

// Tags of sdp.Codec.
const (
	tagCodecPT = iota + 1
	tagCodecName
	tagCodecClockRate
	tagCodecChannels
	tagCodecFmtp
)

func writeCodec(w *tlvWriter, c sdp.Codec) {
	w.u8(tagCodecPT, c.PayloadType)
	w.str(tagCodecName, c.Name)
	w.u32(tagCodecClockRate, c.ClockRate)
	w.u32(tagCodecChannels, uint32(c.Channels))
	w.str(tagCodecFmtp, c.Fmtp)
}

func readCodec(r *tlvReader, f tlvFields) sdp.Codec {
	c := sdp.Codec{
		PayloadType: r.u8(f, tagCodecPT),
		Name:        f.str(tagCodecName),
		ClockRate:   r.u32(f, tagCodecClockRate),
		Channels:    int(r.u32(f, tagCodecChannels)),
		Fmtp:        f.str(tagCodecFmtp),
	}
	if c.Channels > 8 {
		r.fail(fmt.Errorf("codec %s with %d channels", c.Name, c.Channels))
	}
	return c
}

// Tags of sdp.Crypto.
const (
	tagCryptoTag = iota + 1
	tagCryptoSuite
	tagCryptoKey
	tagCryptoSalt
)

// writeCrypto writes c under tag, nothing when it has no suite.
func writeCrypto(w *tlvWriter, tag uint16, c sdp.Crypto) {
	if c.Suite == "" {
		return
	}
	w.nested(tag, func(w *tlvWriter) {
		w.u32(tagCryptoTag, uint32(c.Tag))
		w.str(tagCryptoSuite, c.Suite)
		w.bytes(tagCryptoKey, c.Key)
		w.bytes(tagCryptoSalt, c.Salt)
	})
}

func readCrypto(r *tlvReader, f tlvFields, tag uint16) sdp.Crypto {
	if f[tag] == nil {
		return sdp.Crypto{}
	}
	cf := r.parse(f.one(tag))
	c := sdp.Crypto{
		Tag:   int(r.u32(cf, tagCryptoTag)),
		Suite: cf.str(tagCryptoSuite),
		Key:   cf.bytes(tagCryptoKey),
		Salt:  cf.bytes(tagCryptoSalt),
	}
	if !c.Valid() {
		r.fail(fmt.Errorf("invalid SRTP key of suite %q", c.Suite))
	}
	return c
}

// Tags of rtpstream.Snapshot.
const (
	tagSnapTaken = iota + 1
	tagSnapLocalAddr
	tagSnapLocalRTCPAddr
	tagSnapFlags
	tagSnapMedia
	tagSnapRemote
	tagSnapRemoteRTCP
	tagSnapSSRC
	tagSnapSeq
	tagSnapTimestamp
	tagSnapROC
	tagSnapSRTCPIndex
	tagSnapRemoteSSRC
	tagSnapRemoteROC
	tagSnapPacketsSent
	tagSnapOctetsSent
)

// Bits of tagSnapFlags.
const (
	snapFlagStarted = 1 << 0
	snapFlagMuted   = 1 << 1
)

func writeSnapshot(w *tlvWriter, s *rtpstream.Snapshot) {
	w.time(tagSnapTaken, s.Taken)
	w.str(tagSnapLocalAddr, addrPortText(s.LocalAddr))
	w.str(tagSnapLocalRTCPAddr, addrPortText(s.LocalRTCPAddr))
	w.u8(tagSnapFlags, bits(s.Started, snapFlagStarted)|bits(s.Muted, snapFlagMuted))
	w.nested(tagSnapMedia, func(w *tlvWriter) { writeMedia(w, &s.Media) })
	w.str(tagSnapRemote, addrPortText(s.Remote))
	w.str(tagSnapRemoteRTCP, addrPortText(s.RemoteRTCP))
	w.u32(tagSnapSSRC, s.SSRC)
	w.u16(tagSnapSeq, s.Seq)
	w.u32(tagSnapTimestamp, s.Timestamp)
	w.u32(tagSnapROC, s.ROC)
	w.u32(tagSnapSRTCPIndex, s.SRTCPIndex)
	w.u32(tagSnapRemoteSSRC, s.RemoteSSRC)
	w.u32(tagSnapRemoteROC, s.RemoteROC)
	w.u64(tagSnapPacketsSent, s.PacketsSent)
	w.u64(tagSnapOctetsSent, s.OctetsSent)
}

func readSnapshot(r *tlvReader, f tlvFields, s *rtpstream.Snapshot) {
	s.Taken = r.time(f, tagSnapTaken)
	s.LocalAddr = r.addrPort(f, tagSnapLocalAddr)
	s.LocalRTCPAddr = r.addrPort(f, tagSnapLocalRTCPAddr)
	flags := r.u8(f, tagSnapFlags)
	s.Started = flags&snapFlagStarted != 0
	s.Muted = flags&snapFlagMuted != 0
	readMedia(r, r.parse(f.one(tagSnapMedia)), &s.Media)
	s.Remote = r.addrPort(f, tagSnapRemote)
	s.RemoteRTCP = r.addrPort(f, tagSnapRemoteRTCP)
	s.SSRC = r.u32(f, tagSnapSSRC)
	s.Seq = r.u16(f, tagSnapSeq)
	s.Timestamp = r.u32(f, tagSnapTimestamp)
	s.ROC = r.u32(f, tagSnapROC)
	s.SRTCPIndex = r.u32(f, tagSnapSRTCPIndex)
	s.RemoteSSRC = r.u32(f, tagSnapRemoteSSRC)
	s.RemoteROC = r.u32(f, tagSnapRemoteROC)
	s.PacketsSent = r.u64(f, tagSnapPacketsSent)
	s.OctetsSent = r.u64(f, tagSnapOctetsSent)
}

// Tags of sdp.Media.
const (
	tagMediaRemote = iota + 1
	tagMediaRemoteRTCP
	tagMediaFlags
	tagMediaSend
	tagMediaSendDTMF
	tagMediaRecv // repeated
	tagMediaDirection
	tagMediaPTime
	tagMediaLocalCrypto
	tagMediaRemoteCrypto
)

// Bits of tagMediaFlags.
const (
	mediaFlagRTCPMux = 1 << 0
	mediaFlagSecure  = 1 << 1
)

func writeMedia(w *tlvWriter, m *sdp.Media) {
	w.str(tagMediaRemote, addrPortText(m.Remote))
	w.str(tagMediaRemoteRTCP, addrPortText(m.RemoteRTCP))
	w.u8(tagMediaFlags, bits(m.RTCPMux, mediaFlagRTCPMux)|bits(m.Secure, mediaFlagSecure))
	w.nested(tagMediaSend, func(w *tlvWriter) { writeCodec(w, m.Send) })
	if m.SendDTMF.Name != "" {
		w.nested(tagMediaSendDTMF, func(w *tlvWriter) { writeCodec(w, m.SendDTMF) })
	}
	for _, c := range m.Recv {
		w.nested(tagMediaRecv, func(w *tlvWriter) { writeCodec(w, c) })
	}
	w.u8(tagMediaDirection, uint8(m.Direction))
	w.i64(tagMediaPTime, int64(m.PTime))
	writeCrypto(w, tagMediaLocalCrypto, m.LocalCrypto)
	writeCrypto(w, tagMediaRemoteCrypto, m.RemoteCrypto)
}

func readMedia(r *tlvReader, f tlvFields, m *sdp.Media) {
	m.Remote = r.addrPort(f, tagMediaRemote)
	m.RemoteRTCP = r.addrPort(f, tagMediaRemoteRTCP)
	flags := r.u8(f, tagMediaFlags)
	m.RTCPMux = flags&mediaFlagRTCPMux != 0
	m.Secure = flags&mediaFlagSecure != 0
	if f[tagMediaSend] != nil {
		m.Send = readCodec(r, r.parse(f.one(tagMediaSend)))
	}
	if f[tagMediaSendDTMF] != nil {
		m.SendDTMF = readCodec(r, r.parse(f.one(tagMediaSendDTMF)))
	}
	for _, v := range f[tagMediaRecv] {
		m.Recv = append(m.Recv, readCodec(r, r.parse(v)))
	}
	m.Direction = sdp.Direction(r.u8(f, tagMediaDirection))
	m.PTime = time.Duration(r.i64(f, tagMediaPTime))
	m.LocalCrypto = readCrypto(r, f, tagMediaLocalCrypto)
	m.RemoteCrypto = readCrypto(r, f, tagMediaRemoteCrypto)
	if m.Direction > sdp.Inactive {
		r.fail(fmt.Errorf("media direction %d", m.Direction))
	}
	if m.Secure && (!m.LocalCrypto.Valid() || !m.RemoteCrypto.Valid()) {
		r.fail(errors.New("secure media without SRTP keys"))
	}
}

func bits(set bool, bit uint8) uint8 {
	if set {
		return bit
	}
	return 0
}

func bits16(set bool, bit uint16) uint16 {
	if set {
		return bit
	}
	return 0
}

// addrText and addrPortText write "" for the zero value.
func addrText(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

func addrPortText(a netip.AddrPort) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// tlvWriter writes fields: a 2-byte tag, a 4-byte length, the value.
type tlvWriter struct {
	b []byte
}

func (w *tlvWriter) bytes(tag uint16, v []byte) {
	w.b = binary.BigEndian.AppendUint16(w.b, tag)
	w.b = binary.BigEndian.AppendUint32(w.b, uint32(len(v)))
	w.b = append(w.b, v...)
}

func (w *tlvWriter) str(tag uint16, v string) { w.bytes(tag, []byte(v)) }
func (w *tlvWriter) u8(tag uint16, v uint8)   { w.bytes(tag, []byte{v}) }
func (w *tlvWriter) u16(tag uint16, v uint16) { w.bytes(tag, binary.BigEndian.AppendUint16(nil, v)) }
func (w *tlvWriter) u32(tag uint16, v uint32) { w.bytes(tag, binary.BigEndian.AppendUint32(nil, v)) }
func (w *tlvWriter) u64(tag uint16, v uint64) { w.bytes(tag, binary.BigEndian.AppendUint64(nil, v)) }
func (w *tlvWriter) i64(tag uint16, v int64)  { w.u64(tag, uint64(v)) }

// time writes Unix nanoseconds, 0 for the zero time.
func (w *tlvWriter) time(tag uint16, t time.Time) {
	if t.IsZero() {
		w.i64(tag, 0)
		return
	}
	w.i64(tag, t.UnixNano())
}

func (w *tlvWriter) nested(tag uint16, write func(*tlvWriter)) {
	var inner tlvWriter
	write(&inner)
	w.bytes(tag, inner.b)
}

// tlvFields are the values of a field list by tag, in order.
type tlvFields map[uint16][][]byte

// one is the tag's last value, nil when absent.
func (f tlvFields) one(tag uint16) []byte {
	vs := f[tag]
	if len(vs) == 0 {
		return nil
	}
	return vs[len(vs)-1]
}

func (f tlvFields) str(tag uint16) string { return string(f.one(tag)) }

func (f tlvFields) bytes(tag uint16) []byte {
	if v := f.one(tag); v != nil {
		return append([]byte(nil), v...)
	}
	return nil
}

// tlvReader reads fields and keeps the first error, so that a decoder
// reads straight through and checks once. Absent fields read as zero;
// unknown tags are skipped, for fields a later version adds.
type tlvReader struct {
	err error
}

func (r *tlvReader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

func (r *tlvReader) parse(b []byte) tlvFields {
	f := tlvFields{}
	for len(b) > 0 {
		if len(b) < 6 {
			r.fail(errors.New("field header cut short"))
			return f
		}
		tag, n := binary.BigEndian.Uint16(b), binary.BigEndian.Uint32(b[2:])
		b = b[6:]
		if uint64(n) > uint64(len(b)) {
			r.fail(fmt.Errorf("field %d of %d bytes overruns its list", tag, n))
			return f
		}
		f[tag] = append(f[tag], b[:n:n])
		b = b[n:]
	}
	return f
}

// fixed is the tag's value, which must have n bytes; nil when absent.
func (r *tlvReader) fixed(f tlvFields, tag uint16, n int) []byte {
	v := f.one(tag)
	if v == nil {
		return nil
	}
	if len(v) != n {
		r.fail(fmt.Errorf("field %d has %d bytes, want %d", tag, len(v), n))
		return nil
	}
	return v
}

func (r *tlvReader) u8(f tlvFields, tag uint16) uint8 {
	if v := r.fixed(f, tag, 1); v != nil {
		return v[0]
	}
	return 0
}

func (r *tlvReader) u16(f tlvFields, tag uint16) uint16 {
	if v := r.fixed(f, tag, 2); v != nil {
		return binary.BigEndian.Uint16(v)
	}
	return 0
}

func (r *tlvReader) u32(f tlvFields, tag uint16) uint32 {
	if v := r.fixed(f, tag, 4); v != nil {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}

func (r *tlvReader) u64(f tlvFields, tag uint16) uint64 {
	if v := r.fixed(f, tag, 8); v != nil {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

func (r *tlvReader) i64(f tlvFields, tag uint16) int64 { return int64(r.u64(f, tag)) }

func (r *tlvReader) time(f tlvFields, tag uint16) time.Time {
	if ns := r.i64(f, tag); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

func (r *tlvReader) addr(f tlvFields, tag uint16) netip.Addr {
	s := f.str(tag)
	if s == "" {
		return netip.Addr{}
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		r.fail(fmt.Errorf("field %d: %w", tag, err))
	}
	return a
}

func (r *tlvReader) addrPort(f tlvFields, tag uint16) netip.AddrPort {
	s := f.str(tag)
	if s == "" {
		return netip.AddrPort{}
	}
	a, err := netip.ParseAddrPort(s)
	if err != nil {
		r.fail(fmt.Errorf("field %d: %w", tag, err))
	}
	return a
}
