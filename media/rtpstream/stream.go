// Package rtpstream runs one audio stream of a call over UDP: RTP with
// G.711 or Opus, RFC 4733 telephone-events, RTCP reports and statistics
// with a MOS estimate, SRTP keyed by SDES, symmetric RTP, an adaptive
// jitter buffer with loss concealment, hold and mute, an alarm when the
// peer's media stops, and a snapshot from which a fresh process continues
// the same stream (BC-25).
//
// The stream has its own clock: every packet interval it takes a frame of
// captured audio queued by Write (silence when there is none, or when
// muted) and sends it, so that media flows from the first moment. The
// captured audio starts once a lead of two frames is queued, which absorbs
// late capture callbacks without gaps (capture.go); every
// frame it plays out one packet from the jitter buffer into the queue
// that Read drains. An audio device connects its capture callback to
// Write and its playback callback to Read.
package rtpstream

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	mrand "math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"

	"github.com/tandem-softphone/tandem/media/jitter"
	"github.com/tandem-softphone/tandem/media/sdp"
)

// Defaults of Config.
const (
	DefaultSampleRate   = 8000
	DefaultNoRTPTimeout = 5 * time.Second
	DefaultRTCPInterval = 5 * time.Second
)

// How much audio the two PCM queues hold at most: more means the device's
// clock and ours drifted apart, and the oldest audio goes.
const (
	maxCaptureQueue = 80 * time.Millisecond
	maxPlayoutQueue = 120 * time.Millisecond
)

// relatchAfter is how long the peer's media must have been quiet before
// media from another address takes over as the peer (symmetric RTP).
const relatchAfter = 500 * time.Millisecond

// Config sets up a Stream. Zero fields take the defaults.
type Config struct {
	// LocalAddr is the address to receive on. With port 0, the stream
	// takes a free even port (within PortMin..PortMax when set) whose
	// next port is free for RTCP.
	LocalAddr        netip.AddrPort
	PortMin, PortMax int

	// SampleRate is the PCM rate of Write and Read: 8000 (default), 16000
	// or 48000 Hz, mono.
	SampleRate int

	NoRTPTimeout time.Duration // alarm after this long without RTP; default 5 s, negative: never
	RTCPInterval time.Duration // mean interval of RTCP reports; default 5 s

	JitterMinDelay time.Duration // jitter buffer depth bounds; 0 takes the jitter package's defaults
	JitterMaxDelay time.Duration

	CNAME string // RTCP canonical name; default "tandem@<local address>"

	// OnEvent receives the stream's events from its own goroutines, one
	// at a time per goroutine. It must return quickly; it may call the
	// Stream's methods, except Close.
	OnEvent func(Event)
	Logger  *slog.Logger
}

// EventKind says what happened.
type EventKind int

// The events of a stream.
const (
	EventDTMF          EventKind = iota + 1 // a telephone-event ended: Digit, Duration
	EventNoRTP                              // no RTP for Config.NoRTPTimeout: Silence
	EventRTPResumed                         // RTP arrives again after EventNoRTP: Silence
	EventRemoteLatched                      // media now goes to Addr, where the peer's comes from
)

func (k EventKind) String() string {
	switch k {
	case EventDTMF:
		return "dtmf"
	case EventNoRTP:
		return "no-rtp"
	case EventRTPResumed:
		return "rtp-resumed"
	case EventRemoteLatched:
		return "remote-latched"
	}
	return fmt.Sprintf("event(%d)", int(k))
}

// Event is something the call layer may want to act on.
type Event struct {
	Kind     EventKind
	Digit    rune           // EventDTMF: 0-9, *, #, A-D, or '!' for flash
	Duration time.Duration  // EventDTMF: how long the key was held
	Silence  time.Duration  // EventNoRTP, EventRTPResumed: how long no RTP had come
	Addr     netip.AddrPort // EventRemoteLatched
}

// Errors of the stream's methods.
var (
	ErrClosed     = errors.New("rtpstream: stream closed")
	ErrNotStarted = errors.New("rtpstream: stream not started")
	ErrStarted    = errors.New("rtpstream: stream already started")
	ErrNoDTMF     = errors.New("rtpstream: the peer takes no telephone-events")
	ErrNotSending = errors.New("rtpstream: the stream does not send (hold)")
)

// Stream is one audio stream. Its methods are safe for concurrent use.
type Stream struct {
	cfg      Config
	log      *slog.Logger
	rtpConn  *net.UDPConn
	rtcpConn *net.UDPConn

	mu      sync.Mutex
	started bool
	closed  bool
	media   sdp.Media
	muted   bool

	// Sending.
	ssrc      uint32
	seq       uint16 // next sequence number
	ts        uint32 // timestamp of the next frame
	roc       uint32 // sequence number wraps: the SRTP rollover counter of seq
	marker    bool   // set on the next audio packet
	enc       encoder
	encConv   resampler
	sendClock int
	ptime     time.Duration
	sent      uint64
	sentBytes uint64
	srOctets  uint32 // payload octets, as the SR counts them
	sentSince bool   // RTP sent since the last report
	dtmfQueue []dtmfTx
	dtmfCur   *dtmfTx
	dtmfGap   time.Duration // audio still due before the next digit
	srtpOut   *srtp.Context

	// Where to send: the negotiated address until the peer's media
	// shows where it really is.
	remote       netip.AddrPort
	remoteRTCP   netip.AddrPort
	latched      bool
	latchedRTCP  bool
	lastFromPeer time.Time

	// Receiving.
	recv      recvStats
	jb        *jitter.Buffer
	jbClock   int
	jbFrame   time.Duration
	decoders  map[uint8]*recvCodec
	lastDec   *recvCodec
	dtmfRx    dtmfRx
	lastRTP   time.Time
	noRTP     bool // the alarm is raised
	srtpIn    *srtp.Context
	dropped   uint64 // packets that were not ours: bad header, unknown payload type
	authFails uint64

	// RTCP.
	remoteSSRC   uint32
	remoteReport rtcp.ReceptionReport // the peer's last report on our stream
	haveReport   bool
	rtt          time.Duration

	pcmMu   sync.Mutex
	capture captureQueue
	playout []int16

	wake chan struct{} // Start and Update reschedule the clock
	done chan struct{}
	wg   sync.WaitGroup
}

// recvCodec decodes one received payload type.
type recvCodec struct {
	format sdp.Codec
	dec    decoder
	conv   resampler
}

// Open binds the stream's sockets and starts receiving; nothing is sent
// until Start.
func Open(cfg Config) (*Stream, error) {
	s, err := newStream(cfg)
	if err != nil {
		return nil, err
	}
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("rtpstream: random SSRC: %w", err)
	}
	// Random start values (RFC 3550 section 5.1); the sequence number
	// starts low enough not to wrap in the first minutes.
	s.ssrc = binary.BigEndian.Uint32(b[:4])
	s.seq = binary.BigEndian.Uint16(b[4:6]) & 0x7FFF
	s.ts = uint32(binary.BigEndian.Uint16(b[6:8])) << 8
	if err := s.listen(cfg.LocalAddr, 0); err != nil {
		return nil, err
	}
	s.goReceive()
	return s, nil
}

func newStream(cfg Config) (*Stream, error) {
	if cfg.SampleRate == 0 {
		cfg.SampleRate = DefaultSampleRate
	}
	switch cfg.SampleRate {
	case 8000, 16000, 48000:
	default:
		return nil, fmt.Errorf("rtpstream: sample rate %d Hz: want 8000, 16000 or 48000", cfg.SampleRate)
	}
	if cfg.NoRTPTimeout == 0 {
		cfg.NoRTPTimeout = DefaultNoRTPTimeout
	}
	if cfg.RTCPInterval <= 0 {
		cfg.RTCPInterval = DefaultRTCPInterval
	}
	if cfg.PortMin < 0 || cfg.PortMax > 65535 || cfg.PortMin > cfg.PortMax {
		return nil, fmt.Errorf("rtpstream: port range %d-%d", cfg.PortMin, cfg.PortMax)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Stream{
		cfg:      cfg,
		log:      cfg.Logger,
		marker:   true,
		decoders: map[uint8]*recvCodec{},
		capture:  captureQueue{limit: int(maxCaptureQueue * time.Duration(cfg.SampleRate) / time.Second)},
		wake:     make(chan struct{}, 1),
		done:     make(chan struct{}),
	}, nil
}

// listen binds RTP and RTCP: at the given ports, or at a free pair.
func (s *Stream) listen(local netip.AddrPort, rtcpPort uint16) error {
	ip := local.Addr()
	bind := func(port int) (*net.UDPConn, error) {
		a := &net.UDPAddr{Port: port}
		if ip.IsValid() {
			a.IP = ip.AsSlice()
			a.Zone = ip.Zone()
		}
		return net.ListenUDP("udp", a)
	}
	if local.Port() != 0 {
		if rtcpPort == 0 {
			rtcpPort = local.Port() + 1
		}
		rtpC, err := bind(int(local.Port()))
		if err != nil {
			return fmt.Errorf("rtpstream: bind RTP: %w", err)
		}
		rtcpC, err := bind(int(rtcpPort))
		if err != nil {
			rtpC.Close()
			return fmt.Errorf("rtpstream: bind RTCP: %w", err)
		}
		s.rtpConn, s.rtcpConn = rtpC, rtcpC
		return nil
	}
	var lastErr error
	for range 64 {
		port := 0
		if s.cfg.PortMax > 0 {
			lo := (s.cfg.PortMin + 1) &^ 1
			if s.cfg.PortMax-1 < lo {
				return fmt.Errorf("rtpstream: port range %d-%d holds no even port pair", s.cfg.PortMin, s.cfg.PortMax)
			}
			port = lo + 2*mrand.IntN((s.cfg.PortMax-1-lo)/2+1)
		}
		rtpC, err := bind(port)
		if err != nil {
			lastErr = err
			continue
		}
		p := rtpC.LocalAddr().(*net.UDPAddr).Port
		if p%2 != 0 || p == 65535 {
			rtpC.Close()
			continue
		}
		rtcpC, err := bind(p + 1)
		if err != nil {
			rtpC.Close()
			lastErr = err
			continue
		}
		s.rtpConn, s.rtcpConn = rtpC, rtcpC
		return nil
	}
	return fmt.Errorf("rtpstream: no free RTP/RTCP port pair: %w", lastErr)
}

func (s *Stream) goReceive() {
	s.wg.Add(2)
	go s.receive(s.rtpConn, false)
	go s.receive(s.rtcpConn, true)
}

// LocalAddr is where the stream receives RTP: the port for the SDP.
func (s *Stream) LocalAddr() netip.AddrPort {
	return s.rtpConn.LocalAddr().(*net.UDPAddr).AddrPort()
}

// LocalRTCPAddr is where the stream receives RTCP when it is not
// multiplexed: the RTP port plus one, unless restored otherwise.
func (s *Stream) LocalRTCPAddr() netip.AddrPort {
	return s.rtcpConn.LocalAddr().(*net.UDPAddr).AddrPort()
}

// SSRC is the synchronisation source of what we send.
func (s *Stream) SSRC() uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ssrc
}

// Start begins sending and playing out with the negotiated media.
func (s *Stream) Start(m sdp.Media) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return ErrClosed
	case s.started:
		return ErrStarted
	}
	if err := s.apply(m); err != nil {
		return err
	}
	s.started = true
	s.lastRTP = time.Now()
	s.wg.Add(1)
	go s.run()
	return nil
}

// Update applies a renegotiation (re-INVITE): codec, direction, remote
// address, keys. The stream's SSRC, sequence and timestamps go on.
func (s *Stream) Update(m sdp.Media) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return ErrClosed
	case !s.started:
		return ErrNotStarted
	}
	wasReceiving := s.media.Direction.Receives()
	if err := s.apply(m); err != nil {
		return err
	}
	if !wasReceiving && m.Direction.Receives() {
		s.lastRTP, s.noRTP = time.Now(), false
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return nil
}

// apply takes the negotiated media into use; s.mu is held.
func (s *Stream) apply(m sdp.Media) error {
	impl, err := findCodec(m.Send)
	if err != nil {
		return fmt.Errorf("rtpstream: %w", err)
	}
	if m.Send.ClockRate == 0 || m.Send.PayloadType > 127 {
		return fmt.Errorf("rtpstream: send codec %v: incomplete", m.Send)
	}
	if !m.Remote.IsValid() {
		return fmt.Errorf("rtpstream: no remote address")
	}
	if m.Direction > sdp.Inactive {
		return fmt.Errorf("rtpstream: %v", m.Direction)
	}
	var out, in *srtp.Context
	if m.Secure {
		if out, err = s.keepOrNew(s.srtpOut, s.media.LocalCrypto, m.LocalCrypto, false); err != nil {
			return fmt.Errorf("rtpstream: outgoing %w", err)
		}
		if in, err = s.keepOrNew(s.srtpIn, s.media.RemoteCrypto, m.RemoteCrypto, true); err != nil {
			return fmt.Errorf("rtpstream: incoming %w", err)
		}
		if out != s.srtpOut {
			out.SetROC(s.ssrc, s.roc)
		}
		// A new key from the peer: its stream, and rollover count, go on.
		if in != s.srtpIn && s.srtpIn != nil && s.remoteSSRC != 0 {
			if roc, ok := s.srtpIn.ROC(s.remoteSSRC); ok {
				in.SetROC(s.remoteSSRC, roc)
			}
		}
	}

	if s.enc == nil || !s.media.Send.Same(m.Send) {
		enc, err := impl.newEncoder(s.cfg.SampleRate)
		if err != nil {
			return fmt.Errorf("rtpstream: %w", err)
		}
		s.enc, s.encConv = enc, newResampler(s.cfg.SampleRate, enc.Rate())
	}
	s.sendClock = int(m.Send.ClockRate)
	s.ptime = ptimeFor(m.Send, m.PTime)

	for pt, rc := range s.decoders {
		if !slices.ContainsFunc(m.Recv, func(c sdp.Codec) bool { return c.PayloadType == pt && c.Same(rc.format) }) {
			delete(s.decoders, pt)
			if s.lastDec == rc {
				s.lastDec = nil
			}
		}
	}
	if s.remoteChanged(m) {
		s.remote, s.remoteRTCP = m.Remote, m.RemoteRTCP
		if m.RTCPMux {
			s.remoteRTCP = m.Remote
		}
		s.latched, s.latchedRTCP = false, false
	}
	if !m.SendDTMF.IsDTMF() || !m.Direction.Sends() {
		s.dtmfQueue, s.dtmfCur = nil, nil
	}
	if s.started && !s.media.Direction.Sends() && m.Direction.Sends() {
		s.marker = true // media resumes after hold: a new talkspurt
	}
	s.srtpOut, s.srtpIn = out, in
	s.media = m
	s.media.Recv = slices.Clone(m.Recv)
	return nil
}

func (s *Stream) remoteChanged(m sdp.Media) bool {
	return !s.started || m.Remote != s.media.Remote || m.RemoteRTCP != s.media.RemoteRTCP || m.RTCPMux != s.media.RTCPMux
}

// keepOrNew keeps the SRTP context while the key stays, so that a re-INVITE
// does not reset its replay and rollover state.
func (s *Stream) keepOrNew(ctx *srtp.Context, old, c sdp.Crypto, incoming bool) (*srtp.Context, error) {
	if ctx != nil && sameCrypto(old, c) {
		return ctx, nil
	}
	return srtpContext(c, incoming)
}

// SetDirection changes our direction at run time, as a hold re-INVITE
// negotiated it.
func (s *Stream) SetDirection(d sdp.Direction) error {
	s.mu.Lock()
	m := s.media
	s.mu.Unlock()
	m.Direction = d
	return s.Update(m)
}

// SetMute stops sending the captured audio: silence goes out instead, so
// that the peer and the NATs on the way keep seeing media.
func (s *Stream) SetMute(mute bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.muted = mute
}

// Muted reports whether the stream is muted.
func (s *Stream) Muted() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.muted
}

// Media returns the media the stream runs with.
func (s *Stream) Media() sdp.Media {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.media
}

// SendDTMF queues digits (0-9, *, #, A-D, ! for flash) to send as RFC 4733
// telephone-events of the given duration each, clamped to
// DTMFMinDuration..DTMFMaxDuration.
func (s *Stream) SendDTMF(digits string, duration time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return ErrClosed
	case !s.started:
		return ErrNotStarted
	case !s.media.HasDTMF():
		return ErrNoDTMF
	case !s.media.Direction.Sends():
		return ErrNotSending
	}
	duration = min(max(duration, DTMFMinDuration), DTMFMaxDuration)
	// Events count in the stream's timestamp clock (RFC 4733 section 2.1).
	total := uint32(min(duration.Seconds()*float64(s.sendClock), math.MaxUint16))
	queue := s.dtmfQueue
	for _, d := range digits {
		code, ok := eventCode(d)
		if !ok {
			return fmt.Errorf("rtpstream: DTMF digit %q: not one of %s", d, dtmfDigits)
		}
		queue = append(queue, dtmfTx{code: code, total: total})
	}
	s.dtmfQueue = queue
	return nil
}

// Write queues captured audio (mono PCM at Config.SampleRate) to send.
// It never blocks. The stream sends the audio once a lead of a few
// frames is queued, so that late callbacks leave no gaps; audio beyond
// what the stream's clock takes is dropped (see captureQueue).
func (s *Stream) Write(pcm []int16) {
	s.pcmMu.Lock()
	defer s.pcmMu.Unlock()
	s.capture.write(pcm)
}

// Read fills pcm with received audio to play (mono PCM at
// Config.SampleRate), silence where there is none. It never blocks.
func (s *Stream) Read(pcm []int16) {
	s.pcmMu.Lock()
	defer s.pcmMu.Unlock()
	n := copy(pcm, s.playout)
	clear(pcm[n:])
	s.playout = s.playout[:copy(s.playout, s.playout[n:])]
}

func (s *Stream) samples(d time.Duration) int {
	return int(d * time.Duration(s.cfg.SampleRate) / time.Second)
}

// appendBounded appends pcm to q and drops the oldest samples beyond limit.
func appendBounded(q, pcm []int16, limit int) []int16 {
	q = append(q, pcm...)
	if over := len(q) - limit; over > 0 {
		q = q[:copy(q, q[over:])]
	}
	return q
}

// Close stops the stream: it sends an RTCP BYE and releases the ports.
// The stream's state stays readable by Snapshot.
func (s *Stream) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	if s.started {
		s.sendRTCP(time.Now(), true)
	}
	s.mu.Unlock()
	close(s.done)
	err := errors.Join(s.rtpConn.Close(), s.rtcpConn.Close())
	s.wg.Wait()
	return err
}

func (s *Stream) emit(evs []Event) {
	if s.cfg.OnEvent == nil {
		return
	}
	for _, e := range evs {
		s.cfg.OnEvent(e)
	}
}

// run is the stream's clock: send a frame, play out a frame, report.
func (s *Stream) run() {
	defer s.wg.Done()
	now := time.Now()
	nextSend, nextPlay := now, now
	nextRTCP := now.Add(s.rtcpDelay() / 2) // the first report comes early
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-s.wake:
		case <-timer.C:
		}
		now = time.Now()
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return
		}
		var evs []Event
		if !now.Before(nextSend) {
			nextSend = s.sendFrames(now, nextSend)
			evs = append(evs, s.checkNoRTP(now)...)
			evs = append(evs, s.dtmfRx.expire(now)...)
		}
		if !now.Before(nextPlay) {
			nextPlay = s.playFrames(now, nextPlay)
		}
		if !now.Before(nextRTCP) {
			s.sendRTCP(now, false)
			nextRTCP = now.Add(s.rtcpDelay())
		}
		s.mu.Unlock()
		s.emit(evs)
		next := nextSend
		for _, t := range []time.Time{nextPlay, nextRTCP} {
			if t.Before(next) {
				next = t
			}
		}
		timer.Reset(max(time.Until(next), 0))
	}
}

// rtcpDelay is the report interval, randomised by ±50% (RFC 3550 6.2).
func (s *Stream) rtcpDelay() time.Duration {
	return time.Duration(float64(s.cfg.RTCPInterval) * (0.5 + mrand.Float64()))
}

// sendFrames sends the frames due by now and returns when the next is
// due. After a stall of several frames (a suspended machine) it skips
// ahead, moving the timestamp on as if the frames had been sent.
func (s *Stream) sendFrames(now, due time.Time) time.Time {
	if late := now.Sub(due); late > 5*s.ptime {
		skipped := late / s.ptime
		s.ts += uint32(int64(skipped) * int64(s.sendClock) * int64(s.ptime) / int64(time.Second))
		due = due.Add(skipped * s.ptime)
	}
	for !now.Before(due) {
		s.sendFrame()
		due = due.Add(s.ptime)
	}
	return due
}

// sendFrame sends one packet interval: a telephone-event packet, or a
// frame of audio, or nothing on hold; the timestamp moves on in any case.
func (s *Stream) sendFrame() {
	frame := make([]int16, s.samples(s.ptime))
	s.pcmMu.Lock()
	s.capture.take(frame)
	s.pcmMu.Unlock()

	step := uint32(int64(s.sendClock) * int64(s.ptime) / int64(time.Second))
	defer func() { s.ts += step }()
	if !s.media.Direction.Sends() || !s.remote.Addr().IsValid() || s.remote.Addr().IsUnspecified() {
		return
	}
	if s.dtmfCur == nil && s.dtmfGap <= 0 && len(s.dtmfQueue) > 0 {
		s.dtmfCur = &s.dtmfQueue[0]
		s.dtmfQueue = s.dtmfQueue[1:]
		s.dtmfCur.ts = s.ts
	}
	if e := s.dtmfCur; e != nil {
		payload, marker, done := e.payload(s.ts + step)
		s.sendRTP(s.media.SendDTMF.PayloadType, e.ts, marker, payload[:])
		if done {
			s.dtmfCur, s.dtmfGap = nil, dtmfGap
		}
		return
	}
	if s.dtmfGap > 0 {
		s.dtmfGap -= s.ptime
	}
	if s.muted {
		clear(frame)
	}
	payload, err := encodeFrame(s.enc, &s.encConv, frame, nil)
	if err != nil {
		s.log.Warn("rtpstream: encode", "err", err)
		return
	}
	s.sendRTP(s.media.Send.PayloadType, s.ts, s.marker, payload)
	s.marker = false
}

// encodeFrame converts a frame of the stream's PCM to the encoder's rate
// and encodes it.
func encodeFrame(enc encoder, conv *resampler, frame []int16, dst []byte) ([]byte, error) {
	pcm := frame
	if conv.factor > 1 {
		pcm = conv.convert(frame, make([]int16, 0, len(frame)))
	}
	return enc.Encode(pcm, dst)
}

// sendRTP sends one packet to the peer.
func (s *Stream) sendRTP(pt uint8, ts uint32, marker bool, payload []byte) {
	buf, err := s.packet(pt, ts, marker, payload)
	if err != nil {
		s.log.Warn("rtpstream: packetize", "err", err)
		return
	}
	s.seq++
	if s.seq == 0 {
		s.roc++
	}
	if _, err := s.rtpConn.WriteToUDPAddrPort(buf, s.remote); err != nil {
		s.log.Debug("rtpstream: send RTP", "to", s.remote, "err", err)
		return
	}
	s.sent++
	s.sentBytes += uint64(len(payload))
	s.srOctets += uint32(len(payload))
	s.sentSince = true
}

// packet makes the wire form of the next packet: RTP, or SRTP.
func (s *Stream) packet(pt uint8, ts uint32, marker bool, payload []byte) ([]byte, error) {
	pkt := rtp.Packet{
		Header: rtp.Header{
			Version: 2, Marker: marker, PayloadType: pt,
			SequenceNumber: s.seq, Timestamp: ts, SSRC: s.ssrc,
		},
		Payload: payload,
	}
	buf, err := pkt.Marshal()
	if err != nil {
		return nil, fmt.Errorf("marshal RTP: %w", err)
	}
	if s.srtpOut != nil {
		if buf, err = s.srtpOut.EncryptRTP(buf[:0:0], buf, &pkt.Header); err != nil {
			return nil, fmt.Errorf("SRTP encrypt: %w", err)
		}
	}
	return buf, nil
}

// playFrames plays out the frames due by now.
func (s *Stream) playFrames(now, due time.Time) time.Time {
	frame := s.jbFrame
	if s.jb == nil {
		return now.Add(20 * time.Millisecond)
	}
	if late := now.Sub(due); late > 5*frame {
		due = due.Add(late / frame * frame) // the device missed that audio anyway
	}
	for !now.Before(due) {
		s.playFrame(now)
		due = due.Add(frame)
	}
	return due
}

func (s *Stream) playFrame(now time.Time) {
	pkt, lost, ok := s.jb.Pop(now)
	if !ok {
		return
	}
	var pcm []int16
	switch {
	case pkt != nil:
		rc := s.decoders[pkt.PayloadType]
		if rc == nil {
			return
		}
		raw, err := rc.dec.Decode(pkt.Payload, nil)
		if err != nil {
			s.log.Debug("rtpstream: decode", "pt", pkt.PayloadType, "err", err)
			raw = rc.dec.Conceal(nil, int(s.jbFrame*time.Duration(rc.dec.Rate())/time.Second))
		}
		pcm = rc.conv.convert(raw, nil)
		s.lastDec = rc
	case lost && s.lastDec != nil:
		rc := s.lastDec
		raw := rc.dec.Conceal(nil, int(s.jbFrame*time.Duration(rc.dec.Rate())/time.Second))
		pcm = rc.conv.convert(raw, nil)
	default:
		return
	}
	s.pcmMu.Lock()
	s.playout = appendBounded(s.playout, pcm, s.samples(maxPlayoutQueue))
	s.pcmMu.Unlock()
}

func (s *Stream) checkNoRTP(now time.Time) []Event {
	if s.noRTP || s.cfg.NoRTPTimeout < 0 || !s.media.Direction.Receives() {
		return nil
	}
	if quiet := now.Sub(s.lastRTP); quiet >= s.cfg.NoRTPTimeout {
		s.noRTP = true
		s.log.Info("rtpstream: no RTP", "for", quiet.Round(time.Millisecond), "ssrc", s.ssrc)
		return []Event{{Kind: EventNoRTP, Silence: quiet}}
	}
	return nil
}

// receive reads one socket until it closes. RTP and RTCP share the RTP
// socket when multiplexed (RFC 5761), so both kinds are told apart on it.
func (s *Stream) receive(conn *net.UDPConn, rtcpSocket bool) {
	defer s.wg.Done()
	buf := make([]byte, 1500)
	for {
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Debug("rtpstream: receive", "err", err)
			continue
		}
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		data := buf[:n]
		now := time.Now()
		var evs []Event
		if rtcpSocket || isRTCP(data) {
			evs = s.handleRTCP(data, from, now, rtcpSocket)
		} else {
			evs = s.handleRTP(data, from, now)
		}
		s.emit(evs)
	}
}

// isRTCP tells RTCP from RTP by the second byte (RFC 5761 section 4).
func isRTCP(b []byte) bool { return len(b) >= 2 && b[1] >= 192 && b[1] <= 223 }

func (s *Stream) handleRTP(data []byte, from netip.AddrPort, now time.Time) []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started || s.closed {
		return nil
	}
	var hdr rtp.Header
	if _, err := hdr.Unmarshal(data); err != nil || hdr.Version != 2 {
		s.dropped++
		return nil
	}
	raw := data
	if s.srtpIn != nil {
		dec, err := s.srtpIn.DecryptRTP(nil, data, &hdr)
		if err != nil {
			s.authFails++
			return nil
		}
		raw = dec
	} else {
		raw = slices.Clone(data) // the jitter buffer keeps the packet
	}
	pkt := &rtp.Packet{}
	if err := pkt.Unmarshal(raw); err != nil {
		s.dropped++
		return nil
	}
	i := slices.IndexFunc(s.media.Recv, func(c sdp.Codec) bool { return c.PayloadType == pkt.PayloadType })
	if i < 0 {
		s.dropped++
		return nil
	}
	format := s.media.Recv[i]

	var evs []Event
	evs = append(evs, s.latch(from, now)...)
	if s.noRTP {
		s.noRTP = false
		quiet := now.Sub(s.lastRTP)
		s.log.Info("rtpstream: RTP resumed", "after", quiet.Round(time.Millisecond))
		evs = append(evs, Event{Kind: EventRTPResumed, Silence: quiet})
	}
	s.lastRTP = now
	s.remoteSSRC = pkt.SSRC
	s.recv.update(pkt.SSRC, pkt.SequenceNumber, pkt.Timestamp, len(pkt.Payload), now, int(format.ClockRate), !format.IsDTMF())

	if format.IsDTMF() {
		return append(evs, s.dtmfRx.packet(pkt.Timestamp, pkt.Payload, int(format.ClockRate), now)...)
	}
	if !s.media.Direction.Receives() {
		return evs
	}
	rc, err := s.decoder(format)
	if err != nil {
		s.log.Debug("rtpstream: receive", "err", err)
		return evs
	}
	if err := s.ensureJitter(format, rc.dec.Samples(pkt.Payload)); err != nil {
		s.log.Warn("rtpstream: jitter buffer", "err", err)
		return evs
	}
	s.jb.Push(pkt, now)
	return evs
}

// latch points our media at where the peer's comes from (symmetric RTP):
// at once for the first packet, and later when the former source has
// gone quiet, so that a stray packet cannot steal the stream.
func (s *Stream) latch(from netip.AddrPort, now time.Time) []Event {
	defer func() { s.lastFromPeer = now }()
	if from == s.remote {
		s.latched = true
		return nil
	}
	if s.latched && now.Sub(s.lastFromPeer) < relatchAfter {
		return nil
	}
	s.log.Info("rtpstream: peer's media comes from elsewhere", "negotiated", s.remote, "actual", from)
	s.remote, s.latched = from, true
	if s.media.RTCPMux {
		s.remoteRTCP = from
	}
	return []Event{{Kind: EventRemoteLatched, Addr: from}}
}

func (s *Stream) decoder(format sdp.Codec) (*recvCodec, error) {
	if rc := s.decoders[format.PayloadType]; rc != nil {
		return rc, nil
	}
	impl, err := findCodec(format)
	if err != nil {
		return nil, err
	}
	dec, err := impl.newDecoder(s.cfg.SampleRate)
	if err != nil {
		return nil, err
	}
	rc := &recvCodec{format: format, dec: dec, conv: newResampler(dec.Rate(), s.cfg.SampleRate)}
	s.decoders[format.PayloadType] = rc
	return rc, nil
}

// ensureJitter makes a jitter buffer fit the incoming packets' clock and
// duration, which the peer may change.
func (s *Stream) ensureJitter(format sdp.Codec, samples int) error {
	frame := s.jbFrame
	if samples > 0 {
		frame = frameDuration(samples, s.decoders[format.PayloadType].dec.Rate())
	}
	if frame <= 0 {
		frame = sdp.DefaultPTime
	}
	if s.jb != nil && s.jbClock == int(format.ClockRate) && s.jbFrame == frame {
		return nil
	}
	cfg := jitter.Config{
		ClockRate:     int(format.ClockRate),
		FrameDuration: frame,
		MinDelay:      s.cfg.JitterMinDelay,
		MaxDelay:      s.cfg.JitterMaxDelay,
		Logger:        s.log,
	}
	if cfg.MaxDelay == 0 {
		cfg.MaxDelay = max(jitter.DefaultConfig().MaxDelay, frame)
	}
	if cfg.MinDelay == 0 {
		cfg.MinDelay = min(jitter.DefaultConfig().MinDelay, cfg.MaxDelay)
	}
	jb, err := jitter.New(cfg)
	if err != nil {
		return err
	}
	if s.jb != nil {
		s.log.Debug("rtpstream: new jitter buffer", "clock", cfg.ClockRate, "frame", frame)
	}
	s.jb, s.jbClock, s.jbFrame = jb, int(format.ClockRate), frame
	return nil
}

func (s *Stream) handleRTCP(data []byte, from netip.AddrPort, now time.Time, rtcpSocket bool) []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started || s.closed {
		return nil
	}
	if s.srtpIn != nil {
		dec, err := s.srtpIn.DecryptRTCP(nil, data, nil)
		if err != nil {
			s.authFails++
			return nil
		}
		data = dec
	}
	pkts, err := rtcp.Unmarshal(data)
	if err != nil {
		s.dropped++
		return nil
	}
	if rtcpSocket && !s.media.RTCPMux && !s.latchedRTCP {
		// Symmetric RTCP: answer where the peer's reports come from.
		s.remoteRTCP, s.latchedRTCP = from, true
	}
	for _, p := range pkts {
		var reports []rtcp.ReceptionReport
		switch p := p.(type) {
		case *rtcp.SenderReport:
			s.recv.lastSR, s.recv.lastSRAt = uint32(p.NTPTime>>16), now
			reports = p.Reports
		case *rtcp.ReceiverReport:
			reports = p.Reports
		}
		for _, rr := range reports {
			if rr.SSRC != s.ssrc {
				continue
			}
			s.remoteReport, s.haveReport = rr, true
			if rtt := roundTrip(now, rr); rtt > 0 {
				s.rtt = rtt
			}
		}
	}
	return nil
}

// sendRTCP sends a compound report: SR when we sent RTP since the last
// one, else RR; our CNAME; and a BYE when the stream ends.
func (s *Stream) sendRTCP(now time.Time, bye bool) {
	var reports []rtcp.ReceptionReport
	if s.recv.active {
		reports = append(reports, s.recv.report(now))
	}
	var pkts []rtcp.Packet
	if s.sentSince {
		elapsed := s.ts // the timestamp of the frame being captured now
		pkts = append(pkts, &rtcp.SenderReport{
			SSRC: s.ssrc, NTPTime: ntpTime(now), RTPTime: elapsed,
			PacketCount: uint32(s.sent), OctetCount: s.srOctets, Reports: reports,
		})
	} else {
		pkts = append(pkts, &rtcp.ReceiverReport{SSRC: s.ssrc, Reports: reports})
	}
	s.sentSince = false
	pkts = append(pkts, &rtcp.SourceDescription{Chunks: []rtcp.SourceDescriptionChunk{{
		Source: s.ssrc, Items: []rtcp.SourceDescriptionItem{{Type: rtcp.SDESCNAME, Text: s.cnameText()}},
	}}})
	if bye {
		pkts = append(pkts, &rtcp.Goodbye{Sources: []uint32{s.ssrc}})
	}
	buf, err := rtcp.Marshal(pkts)
	if err != nil {
		s.log.Warn("rtpstream: marshal RTCP", "err", err)
		return
	}
	if s.srtpOut != nil {
		if buf, err = s.srtpOut.EncryptRTCP(nil, buf, nil); err != nil {
			s.log.Warn("rtpstream: SRTCP encrypt", "err", err)
			return
		}
	}
	conn := s.rtcpConn
	if s.media.RTCPMux {
		conn = s.rtpConn
	}
	if !s.remoteRTCP.Addr().IsValid() || s.remoteRTCP.Addr().IsUnspecified() {
		return
	}
	if _, err := conn.WriteToUDPAddrPort(buf, s.remoteRTCP); err != nil {
		s.log.Debug("rtpstream: send RTCP", "to", s.remoteRTCP, "err", err)
	}
}

func (s *Stream) cnameText() string {
	if s.cfg.CNAME != "" {
		return s.cfg.CNAME
	}
	return "tandem@" + s.LocalAddr().Addr().String()
}
