package sipua

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/tandem-softphone/tandem/audio"
	"github.com/tandem-softphone/tandem/media/rtpstream"
	"github.com/tandem-softphone/tandem/media/sdp"
)

// callSampleRate is the PCM rate between a call's stream and the audio
// devices.
const callSampleRate = 8000

// openStream binds a call's RTP and RTCP ports; nothing is sent until the
// media is negotiated.
func (e *Endpoint) openStream(c *Call) (*rtpstream.Stream, error) {
	ip, _ := netip.ParseAddr(e.opts.LocalIP)
	s, err := rtpstream.Open(rtpstream.Config{
		LocalAddr:    netip.AddrPortFrom(ip.Unmap(), 0),
		PortMin:      e.opts.RTPPortMin,
		PortMax:      e.opts.RTPPortMax,
		SampleRate:   callSampleRate,
		NoRTPTimeout: e.opts.NoRTPTimeout,
		OnEvent:      c.onStreamEvent,
		Logger:       c.log,
	})
	if err != nil {
		return nil, fmt.Errorf("media: %w", err)
	}
	return s, nil
}

// newLocal is our side of a call's SDP on stream s.
func (e *Endpoint) newLocal(s *rtpstream.Stream, a Account) sdp.Local {
	return sdp.Local{
		Username: "tandem",
		Address:  s.LocalAddr().Addr(),
		Port:     int(s.LocalAddr().Port()),
		RTCPPort: int(s.LocalRTCPAddr().Port()),
		Codecs:   e.opts.Codecs,
		SRTP:     a.SRTP,
	}
}

// applyMediaLocked starts the stream with negotiated media, or updates it
// with renegotiated media. c.mu is held.
func (c *Call) applyMediaLocked(m sdp.Media) error {
	if c.mediaUp {
		return c.stream.Update(m)
	}
	if err := c.stream.Start(m); err != nil {
		return err
	}
	c.stream.SetMute(c.muted)
	c.mediaUp = true
	if c.ep.opts.QualityInterval > 0 {
		go c.reportQuality(c.ep.opts.QualityInterval)
	}
	return nil
}

// reportQuality sends a MediaQuality event every interval until the call
// ends.
func (c *Call) reportQuality(interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
		}
		c.mu.Lock()
		if c.state != CallEnded {
			c.ep.emit(MediaEvent{CallID: c.id, Kind: MediaQuality, Stats: c.stream.Stats()})
		}
		c.mu.Unlock()
	}
}

// onStreamEvent turns the stream's events into the endpoint's. The stream
// calls it from its own goroutines, never while holding its own lock.
func (c *Call) onStreamEvent(ev rtpstream.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == CallEnded || c.stream == nil {
		return
	}
	switch ev.Kind {
	case rtpstream.EventDTMF:
		c.log.Info("DTMF received", "digit", string(ev.Digit), "duration", ev.Duration)
		c.ep.emit(DTMFEvent{CallID: c.id, Digit: ev.Digit, Duration: ev.Duration, Via: "rtp"})
	case rtpstream.EventNoRTP:
		c.ep.emit(MediaEvent{CallID: c.id, Kind: MediaNoRTP, Silence: ev.Silence, Stats: c.stream.Stats()})
	case rtpstream.EventRTPResumed:
		c.ep.emit(MediaEvent{CallID: c.id, Kind: MediaRTPResumed, Silence: ev.Silence, Stats: c.stream.Stats()})
	case rtpstream.EventRemoteLatched:
		c.log.Info("media latched to the peer's source", "addr", ev.Addr)
	}
}

// talker is the call connected to the audio devices, its stream, and its
// devices (nil when a device could not be opened) with the names they
// were opened by.
type talker struct {
	call     *Call
	stream   *rtpstream.Stream
	capture  audio.Device
	playback audio.Device
	opened   deviceChoice
}

// takeAudio connects c's stream to the audio devices, taking them from
// whichever call had them. Without an audio backend it does nothing.
func (e *Endpoint) takeAudio(c *Call) {
	if e.opts.Audio == nil {
		return
	}
	e.audioMu.Lock()
	defer e.audioMu.Unlock()
	if e.audio.call == c {
		return
	}
	e.closeAudioLocked()
	c.mu.Lock()
	s, ok := c.stream, c.mediaUp && c.state != CallEnded && c.state != CallEnding
	c.mu.Unlock()
	if !ok {
		return
	}
	t := talker{call: c, stream: s}
	var err error
	if t.capture, t.opened.capture, err = e.openDevice(c, s, audio.Capture, e.devices.capture); err != nil {
		c.log.Warn("audio capture", "error", err)
	}
	if t.playback, t.opened.playback, err = e.openDevice(c, s, audio.Playback, e.devices.playback); err != nil {
		c.log.Warn("audio playback", "error", err)
	}
	e.audio = t
}

// releaseAudio disconnects c from the audio devices if it has them.
func (e *Endpoint) releaseAudio(c *Call) {
	e.audioMu.Lock()
	defer e.audioMu.Unlock()
	if e.audio.call == c && c != nil {
		e.closeAudioLocked()
	}
}

func (e *Endpoint) closeAudioLocked() {
	var errs []error
	if e.audio.capture != nil {
		errs = append(errs, e.audio.capture.Close())
	}
	if e.audio.playback != nil {
		errs = append(errs, e.audio.playback.Close())
	}
	if err := errors.Join(errs...); err != nil {
		e.log.Warn("close audio devices", "error", err)
	}
	e.audio = talker{}
}

// takeAudioIfFree gives the devices to c when no call has them (early
// media).
func (e *Endpoint) takeAudioIfFree(c *Call) {
	e.audioMu.Lock()
	free := e.audio.call == nil
	e.audioMu.Unlock()
	if free {
		e.takeAudio(c)
	}
}

// talking is the call that has the audio devices, nil when none has.
func (e *Endpoint) talking() *Call {
	e.audioMu.Lock()
	defer e.audioMu.Unlock()
	return e.audio.call
}
