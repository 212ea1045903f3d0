package link

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/tandem-softphone/tandem/internal/testutil"
	"github.com/tandem-softphone/tandem/wire"
)

func startHA(t *testing.T, primary, backup string, log *testutil.Recorder[Status], onConnect func(context.Context, *Conn) error) *HA {
	t.Helper()
	h := NewHA(HAOptions{
		Name: "test", Primary: primary, Backup: backup,
		Link:       Options{KeepAlive: 300 * time.Millisecond, HandshakeTimeout: time.Second},
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond,
		OnStatus: log.Add, OnConnect: onConnect,
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
			log := testutil.NewRecorder[Status]()
			var mu sync.Mutex
			connects := 0
			h := startHA(t, p.Addr(), b.Addr(), log, func(ctx context.Context, c *Conn) error {
				mu.Lock()
				connects++
				mu.Unlock()
				_, err := c.Request(ctx, wire.Message{Name: "RegisterAgain"})
				return err
			})
			testutil.WantNext(t, log, On)
			if h.Member() != p.Addr() {
				t.Fatalf("connected to %s, want primary %s", h.Member(), p.Addr())
			}
			p.SetMode(mode)
			testutil.Eventually(t, "moved to the backup", func() bool { return h.Member() == b.Addr() })
			if _, err := h.Request(testutil.Context(t), wire.Message{Name: "Q"}); err != nil {
				t.Fatal(err)
			}
			if got := log.All(); len(got) != 1 {
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
	log := testutil.NewRecorder[Status]()
	h := startHA(t, p.Addr(), b.Addr(), log, nil)
	testutil.WantNext(t, log, On)
	p.SetMode(Closed)
	b.SetMode(Closed)
	testutil.WantNext(t, log, Off)
	if _, err := h.Request(testutil.Context(t), wire.Message{Name: "Q"}); !errors.Is(err, ErrServiceOff) {
		t.Fatalf("request while OFF: %v", err)
	}
	b.SetMode(Up)
	testutil.WantNext(t, log, On)
	if h.Member() != b.Addr() {
		t.Fatalf("member %s, want backup", h.Member())
	}
	if _, err := h.Request(testutil.Context(t), wire.Message{Name: "Q"}); err != nil {
		t.Fatal(err)
	}
}

func TestHANeverReachable(t *testing.T) {
	p := echoServer(t, ServerOptions{})
	addr := p.Addr()
	p.Close()
	log := testutil.NewRecorder[Status]()
	h := startHA(t, addr, "", log, nil)
	testutil.WantNext(t, log, Off)
	if h.Status() != Off {
		t.Fatal("status not OFF")
	}
}
