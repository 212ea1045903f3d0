package main

import (
	"log/slog"

	"github.com/tandem-softphone/tandem/audio"
	"github.com/tandem-softphone/tandem/audio/native"
)

// windowAudio is the window's sound: the system's sound cards through
// miniaudio. Without a sound system the desktop runs without sound (calls
// send silence): logged, not fatal. The headless desktop has none.
func windowAudio(headless bool, log *slog.Logger) audio.Backend {
	if headless {
		return nil
	}
	b, err := native.New(native.Options{Logger: log})
	if err != nil {
		log.Warn("no sound: calls send silence and nothing rings", "err", err)
		return nil
	}
	return b
}
