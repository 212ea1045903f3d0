package link

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/tandem-softphone/tandem/wire"
)

type statusLog struct {
	mu sync.Mutex
	s  []Status
	ch chan Status
}

func newStatusLog() *statusLog { return &statusLog{ch: make(chan Status, 16)} }

func (l *statusLog) add(s Status) {
	l.mu.Lock()
	l.s = append(l.s, s)
	l.mu.Unlock()
	l.ch <- s
}

func (l *statusLog) all() []Status {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Status(nil), l.s...)
}

func (l *statusLog) wait(t *testing.T, want Status) {
	t.Helper()
	select {
	case got := <-l.ch:
		if got != want {
			t.Fatalf("status %v, want %v", got, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no status change to %v", want)
	}
}

func startHA(t *testing.T, primary, backup string, log *statusLog, onConnect func(context.Context, *Conn) error) *HA {
	t.Helper()
	h := NewHA(HAOptions{
		Name: "test", Primary: primary, Backup: backup,
		Link:       Options{KeepAlive: 300 * time.Millisecond, HandshakeTimeout: time.Second},
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond,
		OnStatus: log.add, OnConnect: onConnect,
	})
	h.Start(context.Background())
	t.Cleanup(h.Close)
	return h
}

// BC-4: the primary's death is invisible above the pair: the status never
// goes OFF and requests keep working through the backup.
func TestHAPrimaryDeathInvisible(t *testing.T) {
	for _, mode := range []Mode{Closed, Blackhole} {
		t.Run(mode.String(), func(t *testing.T) {
			p := echoServer(t, ServerOptions{})
			b := echoServer(t, ServerOptions{})
			log := newStatusLog()
			var mu sync.Mutex
			connects := 0
			h := startHA(t, p.Addr(), b.Addr(), log, func(ctx context.Context, c *Conn) error {
				mu.Lock()
				connects++
				mu.Unlock()
				_, err := c.Request(ctx, wire.Message{Name: "RegisterAgain"})
				return err
			})
			log.wait(t, On)
			if h.Member() != p.Addr() {
				t.Fatalf("connected to %s, want primary %s", h.Member(), p.Addr())
			}
			p.SetMode(mode)
			deadline := time.Now().Add(10 * time.Second)
			for h.Member() != b.Addr() && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if h.Member() != b.Addr() {
				t.Fatalf("never moved to the backup")
			}
			if _, err := h.Request(ctx(t), wire.Message{Name: "Q"}); err != nil {
				t.Fatal(err)
			}
			if got := log.all(); len(got) != 1 {
				t.Fatalf("status changes %v, want only the first ON", got)
			}
			mu.Lock()
			defer mu.Unlock()
			if connects != 2 {
				t.Fatalf("OnConnect ran %d times, want 2", connects)
			}
		})
	}
}

// BC-13's input: OFF only when both members are unreachable, ON again when one returns.
func TestHAOffWhenBothDown(t *testing.T) {
	p := echoServer(t, ServerOptions{})
	b := echoServer(t, ServerOptions{})
	log := newStatusLog()
	h := startHA(t, p.Addr(), b.Addr(), log, nil)
	log.wait(t, On)
	p.SetMode(Closed)
	b.SetMode(Closed)
	log.wait(t, Off)
	if _, err := h.Request(ctx(t), wire.Message{Name: "Q"}); !errors.Is(err, ErrServiceOff) {
		t.Fatalf("request while OFF: %v", err)
	}
	b.SetMode(Up)
	log.wait(t, On)
	if h.Member() != b.Addr() {
		t.Fatalf("member %s, want backup", h.Member())
	}
	if _, err := h.Request(ctx(t), wire.Message{Name: "Q"}); err != nil {
		t.Fatal(err)
	}
}

func TestHANeverReachable(t *testing.T) {
	p := echoServer(t, ServerOptions{})
	addr := p.Addr()
	p.Close()
	log := newStatusLog()
	h := startHA(t, addr, "", log, nil)
	log.wait(t, Off)
	if h.Status() != Off {
		t.Fatal("status not OFF")
	}
}
