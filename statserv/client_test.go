package statserv_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/tandem-softphone/tandem/internal/testutil"
	"github.com/tandem-softphone/tandem/link"
	"github.com/tandem-softphone/tandem/sitesim/statsim"
	"github.com/tandem-softphone/tandem/statserv"
	"github.com/tandem-softphone/tandem/wire"
)

// counters stand for the simulated T-Server's per-agent statistics.
type counters struct {
	mu sync.Mutex
	v  map[[2]string]int64
}

func newCounters() *counters { return &counters{v: map[[2]string]int64{}} }

func (c *counters) get(agent, typ string) (int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.v[[2]string{agent, typ}]
	return v, ok
}

func (c *counters) set(agent, typ string, v int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.v[[2]string{agent, typ}] = v
}

type fixture struct {
	cnt    *counters
	sim    *statsim.Pair
	values chan statserv.Value
	status chan link.Status
	client *statserv.Client
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	quiet := testutil.Quiet()
	f := &fixture{cnt: newCounters(), values: make(chan statserv.Value, 1024), status: make(chan link.Status, 64)}
	f.cnt.set("5320", wire.StatCallsHandledToday, 3)
	f.cnt.set("5320", wire.StatLoginTimeToday, 120)
	f.sim = statsim.New(statsim.Options{
		Site: 1, PrimaryAddr: "127.0.0.1:0", BackupAddr: "127.0.0.1:0",
		Link: link.Options{Logger: quiet}, Value: f.cnt.get, Interval: 20 * time.Millisecond,
	})
	if err := f.sim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.sim.Close)
	p, b := f.sim.Addrs()
	f.client = statserv.New(statserv.Options{
		Name: "site1", Primary: p, Backup: b,
		Link:       link.Options{KeepAlive: 200 * time.Millisecond, HandshakeTimeout: time.Second, Logger: quiet},
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond,
		OnStatus: func(s link.Status) { f.status <- s },
		OnValue:  func(v statserv.Value) { f.values <- v },
	})
	f.client.Start(context.Background())
	t.Cleanup(f.client.Close)
	f.waitStatus(t, link.On)
	return f
}

func (f *fixture) waitStatus(t *testing.T, want link.Status) {
	t.Helper()
	select {
	case got := <-f.status:
		if got != want {
			t.Fatalf("status %v, want %v", got, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no status change to %v", want)
	}
}

// waitValue waits for a value of id equal to want, skipping others; it
// returns the values of other statistics seen meanwhile.
func (f *fixture) waitValue(t *testing.T, id statserv.ID, want int64) []statserv.Value {
	t.Helper()
	var others []statserv.Value
	timeout := time.After(5 * time.Second)
	for {
		select {
		case v := <-f.values:
			if v.ID == id && v.Value == want {
				return others
			}
			if v.ID != id {
				others = append(others, v)
			}
		case <-timeout:
			t.Fatalf("statistic %d: value %d never came", id, want)
		}
	}
}

func TestValuesPushed(t *testing.T) {
	f := newFixture(t)
	calls, err := f.client.Open(testutil.Context(t), wire.StatCallsHandledToday, "5320")
	if err != nil {
		t.Fatal(err)
	}
	select {
	case v := <-f.values:
		want := statserv.Value{ID: calls, Type: wire.StatCallsHandledToday, AgentID: "5320", Value: 3}
		if v != want {
			t.Fatalf("first value %+v, want %+v", v, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no value at open")
	}
	f.cnt.set("5320", wire.StatCallsHandledToday, 4)
	f.waitValue(t, calls, 4)
	if v, ok := f.client.Value(calls); !ok || v != 4 {
		t.Fatalf("last value %d %v", v, ok)
	}
	login, err := f.client.Open(testutil.Context(t), wire.StatLoginTimeToday, "5320")
	if err != nil {
		t.Fatal(err)
	}
	f.waitValue(t, login, 120)
	f.cnt.set("5320", wire.StatLoginTimeToday, 180)
	f.waitValue(t, login, 180)
}

func TestUnknownStatistic(t *testing.T) {
	f := newFixture(t)
	if _, err := f.client.Open(testutil.Context(t), "AverageHandlingTime", "5320"); !errors.Is(err, statserv.ErrUnknownStatistic) {
		t.Fatalf("unknown type: %v", err)
	}
	if _, err := f.client.Open(testutil.Context(t), wire.StatCallsHandledToday, "9999"); !errors.Is(err, statserv.ErrUnknownStatistic) {
		t.Fatalf("unknown agent: %v", err)
	}
	if n := f.sim.OpenStatistics(); n != 0 {
		t.Fatalf("%d statistics open on the server", n)
	}
}

func TestCloseStat(t *testing.T) {
	f := newFixture(t)
	a, err := f.client.Open(testutil.Context(t), wire.StatCallsHandledToday, "5320")
	if err != nil {
		t.Fatal(err)
	}
	b, err := f.client.Open(testutil.Context(t), wire.StatLoginTimeToday, "5320")
	if err != nil {
		t.Fatal(err)
	}
	f.waitValue(t, b, 120)
	if err := f.client.CloseStat(testutil.Context(t), a); err != nil {
		t.Fatal(err)
	}
	if n := f.sim.OpenStatistics(); n != 1 {
		t.Fatalf("%d statistics open on the server, want 1", n)
	}
	// The server pushes a link's changes in ID order: had a stayed open, its
	// change would come before b's.
	f.cnt.set("5320", wire.StatCallsHandledToday, 100)
	f.cnt.set("5320", wire.StatLoginTimeToday, 200)
	for _, v := range f.waitValue(t, b, 200) {
		if v.ID == a && v.Value == 100 {
			t.Fatal("value of a closed statistic delivered")
		}
	}
	if _, ok := f.client.Value(a); ok {
		t.Fatal("closed statistic still has a value")
	}
	if err := f.client.CloseStat(testutil.Context(t), a); err != nil {
		t.Fatalf("second close: %v", err)
	}
}

// BC-4: the primary's death is invisible: the status stays ON and the
// statistic keeps flowing through the backup. Values change all the time,
// so a blackholed primary that still pushed them would never be detected.
func TestPrimaryDeathInvisible(t *testing.T) {
	for _, mode := range []link.Mode{link.Closed, link.Blackhole} {
		t.Run(mode.String(), func(t *testing.T) {
			f := newFixture(t)
			id, err := f.client.Open(testutil.Context(t), wire.StatLoginTimeToday, "5320")
			if err != nil {
				t.Fatal(err)
			}
			f.waitValue(t, id, 120)
			f.sim.SetMode(link.Primary, mode)
			_, backup := f.sim.Addrs()
			v := int64(120)
			testutil.Eventually(t, "client on the backup", func() bool {
				v++ // a new value at every poll, faster than the server's interval
				f.cnt.set("5320", wire.StatLoginTimeToday, v)
				return f.client.Member() == backup
			})
			f.cnt.set("5320", wire.StatLoginTimeToday, 5000)
			f.waitValue(t, id, 5000)
			select {
			case s := <-f.status:
				t.Fatalf("status changed to %v", s)
			default:
			}
		})
	}
}

// BC-15: with both members down the statistic service is OFF; when one
// returns it is ON again and the statistic is re-opened and flowing.
func TestBothDownThenBack(t *testing.T) {
	f := newFixture(t)
	id, err := f.client.Open(testutil.Context(t), wire.StatCallsHandledToday, "5320")
	if err != nil {
		t.Fatal(err)
	}
	f.waitValue(t, id, 3)
	f.sim.SetMode(link.Primary, link.Closed)
	f.sim.SetMode(link.Backup, link.Closed)
	f.waitStatus(t, link.Off)
	if f.client.Status() != link.Off {
		t.Fatal("status not OFF")
	}
	if _, err := f.client.Open(testutil.Context(t), wire.StatLoginTimeToday, "5320"); !errors.Is(err, link.ErrServiceOff) {
		t.Fatalf("open while OFF: %v", err)
	}
	f.cnt.set("5320", wire.StatCallsHandledToday, 7)
	f.sim.SetMode(link.Backup, link.Up)
	// The value is sent at once on re-open, before or after the ON.
	f.waitValue(t, id, 7)
	f.waitStatus(t, link.On)
	f.cnt.set("5320", wire.StatCallsHandledToday, 8)
	f.waitValue(t, id, 8)
	if n := f.sim.OpenStatistics(); n != 1 {
		t.Fatalf("%d statistics open on the server, want 1", n)
	}
}
