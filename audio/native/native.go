// Package native is the audio backend for real sound devices, through
// miniaudio (github.com/gen2brain/malgo, cgo): ALSA or PulseAudio on
// Linux, WASAPI on Windows, Core Audio on macOS, loaded at run time. It
// also gives miniaudio's null backend, which runs devices in real time
// without hardware.
//
// A device that disappears while open (unplugged headset) is replaced by
// the default device of its kind, without stopping the call.
package native

import (
	"encoding/binary"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/gen2brain/malgo"

	"github.com/tandem-softphone/tandem/audio"
)

// BackendNull selects miniaudio's null backend. malgo's own BackendNull
// constant is off by one (it names miniaudio's custom backend slot, and
// context creation fails with "no backend"): miniaudio numbers null 14.
const BackendNull = malgo.Backend(14)

// DefaultWatchdog is how long a device may go without a callback before
// it counts as lost, when Options.Watchdog is 0.
const DefaultWatchdog = time.Second

// Options sets up a Backend.
type Options struct {
	// Backends lists the miniaudio backends to try in order; nil tries
	// the platform's usual ones.
	Backends []malgo.Backend
	Watchdog time.Duration
	Logger   *slog.Logger
}

// Backend opens sound devices through one miniaudio context.
type Backend struct {
	ctx      *malgo.AllocatedContext
	log      *slog.Logger
	watchdog time.Duration
}

// New initialises miniaudio. Without any sound system it fails; a system
// without sound cards may succeed and list no devices.
func New(opts Options) (*Backend, error) {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	if opts.Watchdog <= 0 {
		opts.Watchdog = DefaultWatchdog
	}
	ctx, err := malgo.InitContext(opts.Backends, malgo.ContextConfig{}, func(msg string) {
		log.Debug("audio: miniaudio", "msg", strings.TrimSpace(msg))
	})
	if err != nil {
		return nil, fmt.Errorf("audio: init miniaudio: %w", err)
	}
	return &Backend{ctx: ctx, log: log, watchdog: opts.Watchdog}, nil
}

// NewNull returns miniaudio's null backend: devices that run in real time
// and hear silence.
func NewNull(log *slog.Logger) (*Backend, error) {
	return New(Options{Backends: []malgo.Backend{BackendNull}, Logger: log})
}

func deviceType(kind audio.Kind) (malgo.DeviceType, error) {
	switch kind {
	case audio.Capture:
		return malgo.Capture, nil
	case audio.Playback:
		return malgo.Playback, nil
	}
	return 0, fmt.Errorf("audio: %v", kind)
}

// Devices lists the devices of a kind.
func (b *Backend) Devices(kind audio.Kind) ([]audio.DeviceInfo, error) {
	infos, err := b.devices(kind)
	if err != nil {
		return nil, err
	}
	out := make([]audio.DeviceInfo, len(infos))
	for i, d := range infos {
		out[i] = audio.DeviceInfo{ID: d.ID.String(), Name: d.Name(), Kind: kind, Default: d.IsDefault != 0}
	}
	return out, nil
}

func (b *Backend) devices(kind audio.Kind) ([]malgo.DeviceInfo, error) {
	t, err := deviceType(kind)
	if err != nil {
		return nil, err
	}
	infos, err := b.ctx.Devices(t)
	if err != nil {
		return nil, fmt.Errorf("audio: list %v devices: %w", kind, err)
	}
	return infos, nil
}

// Close releases miniaudio; close the devices first.
func (b *Backend) Close() error {
	err := b.ctx.Uninit()
	b.ctx.Free()
	if err != nil {
		return fmt.Errorf("audio: close miniaudio: %w", err)
	}
	return nil
}

// OpenCapture opens a microphone.
func (b *Backend) OpenCapture(device string, cfg audio.Config, onFrame func(pcm []int16)) (audio.Device, error) {
	return b.open(audio.Capture, device, cfg, onFrame)
}

// OpenPlayback opens a speaker (or the ring device).
func (b *Backend) OpenPlayback(device string, cfg audio.Config, fill func(pcm []int16)) (audio.Device, error) {
	return b.open(audio.Playback, device, cfg, fill)
}

func (b *Backend) open(kind audio.Kind, device string, cfg audio.Config, fn func([]int16)) (audio.Device, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	d := &nativeDevice{b: b, kind: kind, cfg: cfg, fn: fn, stop: make(chan struct{})}
	var id *malgo.DeviceID
	if device != "" {
		devs, err := b.Devices(kind)
		if err != nil {
			return nil, err
		}
		if info, ok := audio.Find(devs, device); ok {
			infos, _ := b.devices(kind)
			for _, mi := range infos {
				if mi.ID.String() == info.ID {
					id = &mi.ID
				}
			}
		} else {
			b.log.Warn("audio: no such device, using the default", "device", device, "kind", kind)
			d.fellBack = true
		}
	}
	if err := d.start(id); err != nil {
		return nil, err
	}
	if d.fellBack && cfg.OnFallback != nil {
		cfg.OnFallback(d.Name())
	}
	d.wg.Add(1)
	go d.watch()
	return d, nil
}

// nativeDevice is an open miniaudio device that replaces itself with the
// default device when it stops on its own or its callbacks stop coming.
type nativeDevice struct {
	b    *Backend
	kind audio.Kind
	cfg  audio.Config
	fn   func([]int16)

	mu         sync.Mutex
	cur        *opened
	retired    []*opened // lost devices, uninitialised at Close
	name       string
	closing    bool
	recovering bool
	fellBack   bool

	// gen numbers the opened devices: callbacks of an older one, which a
	// hung driver may still deliver, are ignored.
	gen          atomic.Uint64
	lastCallback atomic.Int64 // unix nanoseconds, of the current device

	stop chan struct{}
	wg   sync.WaitGroup
}

// opened is one miniaudio device.
type opened struct {
	dev *malgo.Device
	pin *runtime.Pinner // keeps the device ID still for miniaudio; nil for the default device
}

func (o *opened) uninit() {
	o.dev.Uninit()
	if o.pin != nil {
		o.pin.Unpin()
	}
}

// start opens and starts the device with the ID, or the default device
// when id is nil, as the current one; d.mu must not be held.
func (d *nativeDevice) start(id *malgo.DeviceID) error {
	t, err := deviceType(d.kind)
	if err != nil {
		return err
	}
	mc := malgo.DefaultDeviceConfig(t)
	mc.SampleRate = uint32(d.cfg.SampleRate)
	mc.PeriodSizeInMilliseconds = uint32(max(d.cfg.Period/time.Millisecond, 1))
	sub := malgo.SubConfig{Format: malgo.FormatS16, Channels: 1}
	o := &opened{}
	if id != nil {
		own := *id
		o.pin = new(runtime.Pinner)
		o.pin.Pin(&own)
		sub.DeviceID = unsafe.Pointer(&own)
	}
	if d.kind == audio.Capture {
		mc.Capture = sub
	} else {
		mc.Playback = sub
	}
	gen := d.gen.Add(1)
	d.lastCallback.Store(time.Now().UnixNano())
	o.dev, err = malgo.InitDevice(d.b.ctx.Context, mc, malgo.DeviceCallbacks{
		Data: d.dataFunc(gen),
		Stop: func() {
			if d.gen.Load() == gen {
				d.stopped()
			}
		},
	})
	if err != nil {
		if o.pin != nil {
			o.pin.Unpin()
		}
		return fmt.Errorf("audio: open %v device: %w", d.kind, err)
	}
	if err := o.dev.Start(); err != nil {
		d.gen.Add(1) // its stop callback is not a loss
		o.uninit()
		return fmt.Errorf("audio: start %v device: %w", d.kind, err)
	}
	name := d.nameOf(id)
	d.mu.Lock()
	d.cur, d.name = o, name
	d.mu.Unlock()
	return nil
}

// nameOf finds the device's name for Name and the log.
func (d *nativeDevice) nameOf(id *malgo.DeviceID) string {
	infos, _ := d.b.devices(d.kind)
	for _, mi := range infos {
		if (id != nil && mi.ID == *id) || (id == nil && mi.IsDefault != 0) {
			return mi.Name()
		}
	}
	if id != nil {
		return id.String()
	}
	return "default " + d.kind.String() + " device"
}

func (d *nativeDevice) Name() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.name
}

// dataFunc makes miniaudio's data callback for device generation gen:
// mono 16-bit little-endian samples.
func (d *nativeDevice) dataFunc(gen uint64) malgo.DataProc {
	var pcm []int16 // used by that device's thread only
	return func(out, in []byte, frames uint32) {
		if d.gen.Load() != gen {
			clear(out)
			return
		}
		d.lastCallback.Store(time.Now().UnixNano())
		n := int(frames)
		if cap(pcm) < n {
			pcm = make([]int16, n)
		}
		pcm = pcm[:n]
		if d.kind == audio.Capture {
			if len(in) < 2*n {
				return
			}
			for i := range pcm {
				pcm[i] = int16(binary.LittleEndian.Uint16(in[2*i:]))
			}
			d.fn(pcm)
			return
		}
		if len(out) < 2*n {
			return
		}
		d.fn(pcm)
		for i, s := range pcm {
			binary.LittleEndian.PutUint16(out[2*i:], uint16(s))
		}
	}
}

// stopped is the current device's stop callback: miniaudio stopped it
// (we never stop a device, we only uninitialise it), so it went away.
func (d *nativeDevice) stopped() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closing || d.recovering {
		return
	}
	// Added under d.mu, so that Close, which sets closing under it,
	// waits for this goroutine.
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		d.recover("the device stopped")
	}()
}

// watch notices a device whose callbacks stopped without a stop callback.
func (d *nativeDevice) watch() {
	defer d.wg.Done()
	tick := time.NewTicker(max(d.b.watchdog/4, 10*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-d.stop:
			return
		case <-tick.C:
		}
		if time.Since(time.Unix(0, d.lastCallback.Load())) >= d.b.watchdog {
			d.recover("no audio callbacks")
		}
	}
}

// recover opens the default device in place of the lost one, retrying
// until it succeeds or the device is closed. The lost device is only
// uninitialised at Close: miniaudio may still be stopping it, or its
// driver may hang in a callback, and uninitialising it now could wait
// forever.
func (d *nativeDevice) recover(reason string) {
	d.mu.Lock()
	if d.closing || d.recovering {
		d.mu.Unlock()
		return
	}
	d.recovering = true
	d.gen.Add(1) // the lost device's callbacks are ignored from now on
	if d.cur != nil {
		d.retired = append(d.retired, d.cur)
		d.cur = nil
	}
	oldName := d.name
	d.mu.Unlock()

	d.b.log.Warn("audio: device lost, moving to the default", "device", oldName, "kind", d.kind, "reason", reason)
	for {
		err := d.start(nil)
		if err == nil {
			break
		}
		d.b.log.Warn("audio: no default device yet", "kind", d.kind, "err", err)
		select {
		case <-d.stop:
			d.mu.Lock()
			d.recovering = false
			d.mu.Unlock()
			return
		case <-time.After(d.b.watchdog):
		}
	}
	d.mu.Lock()
	d.recovering = false
	name := d.name
	closing := d.closing
	d.mu.Unlock()
	if closing {
		return
	}
	d.b.log.Info("audio: using the default device", "device", name, "kind", d.kind)
	if d.cfg.OnFallback != nil {
		d.cfg.OnFallback(name)
	}
}

// Close stops the device.
func (d *nativeDevice) Close() error {
	d.mu.Lock()
	if d.closing {
		d.mu.Unlock()
		return nil
	}
	d.closing = true
	d.mu.Unlock()
	close(d.stop)
	d.wg.Wait() // a recovery in progress finishes or gives up
	d.mu.Lock()
	all := d.retired
	if d.cur != nil {
		all = append(all, d.cur)
	}
	d.cur, d.retired = nil, nil
	d.mu.Unlock()
	d.gen.Add(1)
	for _, o := range all {
		o.uninit()
	}
	return nil
}
