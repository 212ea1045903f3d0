package config

import (
	"log/slog"
	"reflect"
	"strings"
	"testing"
)

// FuzzProperties: no input panics the properties reader, and what it
// accepts goes through the whole loading path without panicking.
func FuzzProperties(f *testing.F) {
	log := slog.New(slog.DiscardHandler)
	f.Fuzz(func(t *testing.T, data []byte) {
		props, err := parseProperties(data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "line ") {
				t.Errorf("error without a line number: %v", err)
			}
			return
		}
		for _, p := range props {
			if p.line < 1 {
				t.Errorf("property %q has line %d", p.key, p.line)
			}
		}
		l := newLoader(log)
		l.data("fuzz.properties", data)
		c, err := l.finish()
		if err == nil {
			roundTrip(t, c)
		}
	})
}

// FuzzLoadTOML: no input panics TOML loading, and whatever loads cleanly
// prints and loads back to the same Config.
func FuzzLoadTOML(f *testing.F) {
	log := slog.New(slog.DiscardHandler)
	f.Fuzz(func(t *testing.T, data []byte) {
		l := newLoader(log)
		l.data("fuzz.toml", data)
		c, err := l.finish()
		if err != nil {
			return
		}
		roundTrip(t, c)
	})
}

func roundTrip(t *testing.T, c *Config) {
	t.Helper()
	out, err := c.MarshalTOML()
	if err != nil {
		t.Fatal(err)
	}
	l := newLoader(slog.New(slog.DiscardHandler))
	l.data("printed.toml", out)
	back, err := l.finish()
	if err != nil {
		t.Fatalf("printed config does not load: %v\n%s", err, out)
	}
	if !reflect.DeepEqual(back, c) {
		t.Fatalf("round trip:\ngot  %+v\nwant %+v\n%s", back, c, out)
	}
}
