package core

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tandem-softphone/tandem/continuity"
	"github.com/tandem-softphone/tandem/sitesim"
	"github.com/tandem-softphone/tandem/sitesim/directory"
	"github.com/tandem-softphone/tandem/wire"
)

// The benchmarks measure the desktop's own cost on loopback against the
// simulator. Each iteration is one switchover, re-launch or start, so a
// fixed count keeps the run short: go test -run='^$' -bench=. -benchtime=10x ./core/
// Besides ns/op (the whole iteration, the simulator's part and the wait for
// the state included) they report the median and the 99th percentile of what
// the desktop's own timelines measured.

// benchSim runs the simulator for a benchmark; dir nil is the demo directory.
func benchSim(b *testing.B, dir *directory.Directory) *sitesim.Sim {
	return startSim(b, func(o *sitesim.Options) {
		o.Dir = dir
		o.StatInterval = 200 * time.Millisecond
	})
}

// benchOptions are testOptions with registrations long enough that no
// refresh lands inside a measurement (expiry is the simulator's doing).
func benchOptions(b *testing.B, sim *sitesim.Sim, user string) Options {
	o := testOptions(b, sim, user)
	o.SIPExpires = 30 * time.Second
	return o
}

// benchCore starts a core and logs it in at site 1.
func benchCore(b *testing.B, opts Options) *Core {
	b.Helper()
	c, err := New(opts)
	if err != nil {
		b.Fatal(err)
	}
	c.Start(context.Background())
	b.Cleanup(c.Close)
	if err := c.Login(context.Background(), "", sitesim.DemoPassword, 0); err != nil {
		b.Fatalf("Login: %v", err)
	}
	if _, err := await(c, longWait, loggedInAt(1)); err != nil {
		b.Fatal(err)
	}
	return c
}

// loggedInAt: the agent is logged in at site, registered at both sites.
func loggedInAt(site int) func(State) bool {
	return func(s State) bool {
		return s.Phase == continuity.LoggedIn && s.Site == site && s.Agent.State != "" && s.Agent.State != wire.StateLoggedOut &&
			s.Sites[0].SIP.State == "registered" && s.Sites[1].SIP.State == "registered"
	}
}

// await waits, without polling, until the core's state meets cond.
func await(c *Core, wait time.Duration, cond func(State) bool) (State, error) {
	met := make(chan State, 1)
	var mu sync.Mutex
	var seen State // the last state, for the error
	cancel := c.Subscribe(func(s State) {
		mu.Lock()
		seen = s
		mu.Unlock()
		if cond(s) {
			select {
			case met <- s:
			default:
			}
		}
	})
	defer cancel()
	select {
	case s := <-met:
		return s, nil
	case <-time.After(wait):
		mu.Lock()
		defer mu.Unlock()
		return State{}, fmt.Errorf("not within %v; state:\n%s", wait, dump(seen))
	}
}

// lastFinished returns the newest timeline of kind started after since,
// once it has finished.
func lastFinished(s State, kind string, since time.Time) (continuity.Timeline, bool) {
	tls := timelines(s, kind)
	if len(tls) == 0 {
		return continuity.Timeline{}, false
	}
	tl := tls[len(tls)-1]
	return tl, !tl.Started.Before(since) && !tl.Finished.IsZero()
}

// reportQuantiles reports the median and the 99th percentile of ds, in ms,
// under units prefix+"ms-median" and prefix+"ms-p99".
func reportQuantiles(b *testing.B, prefix string, ds []time.Duration) {
	b.Helper()
	if len(ds) == 0 {
		return
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	median := ms(s[len(s)/2])
	if len(s)%2 == 0 {
		median = (ms(s[len(s)/2-1]) + ms(s[len(s)/2])) / 2
	}
	// Nearest rank: the smallest value with at least 99 % at or below it.
	rank := (99*len(s) + 99) / 100
	b.ReportMetric(median, prefix+"ms-median")
	b.ReportMetric(ms(s[rank-1]), prefix+"ms-p99")
}

// BC-19, BC-20: the desktop's cost of a switchover, from the site's
// graceful_shutdown_logout to logged in at the other site, as the
// switchover timeline measures it. Iterations alternate the sites: the
// shut-down site's T-Server is revived once the agent has left it.
func BenchmarkSwitchover(b *testing.B) {
	sim := benchSim(b, nil)
	c := benchCore(b, benchOptions(b, sim, "agent1"))
	var ds []time.Duration
	cur := 1
	b.ResetTimer()
	for range b.N {
		site, err := sim.Site(cur)
		if err != nil {
			b.Fatal(err)
		}
		other := 3 - cur
		since := time.Now()
		site.GracefulShutdown()
		s, err := await(c, longWait, func(s State) bool {
			_, done := lastFinished(s, "switchover", since)
			return done && loggedInAt(other)(s)
		})
		if err != nil {
			b.Fatalf("switchover %d→%d: %v", cur, other, err)
		}
		tl, _ := lastFinished(s, "switchover", since)
		if tl.Err != "" || tl.From != cur || tl.To != other {
			b.Fatalf("switchover timeline %+v", tl)
		}
		ds = append(ds, tl.Duration())
		if err := site.Revive(sitesim.ServerTServer); err != nil {
			b.Fatal(err)
		}
		cur = other
	}
	b.StopTimer()
	reportQuantiles(b, "", ds)
}

// BC-18: the desktop's cost of a re-launch, from dr-force_logout (the
// registration expired at the registrar) to logged in again, as the
// relaunch timeline measures it.
func BenchmarkRelaunch(b *testing.B) {
	sim := benchSim(b, nil)
	c := benchCore(b, benchOptions(b, sim, "agent1"))
	site, err := sim.Site(1)
	if err != nil {
		b.Fatal(err)
	}
	var ds []time.Duration
	b.ResetTimer()
	for range b.N {
		since := time.Now()
		if err := site.ExpireRegistration("5001"); err != nil {
			b.Fatal(err)
		}
		s, err := await(c, longWait, func(s State) bool {
			_, done := lastFinished(s, "relaunch", since)
			return done && loggedInAt(1)(s)
		})
		if err != nil {
			b.Fatalf("relaunch: %v", err)
		}
		tl, _ := lastFinished(s, "relaunch", since)
		if tl.Err != "" {
			b.Fatalf("relaunch timeline %+v", tl)
		}
		ds = append(ds, tl.Duration())
	}
	b.StopTimer()
	reportQuantiles(b, "", ds)
}

// BC-2, BC-12: the desktop's cost of a start, from core.New to registered
// at both sites and logged in. Each iteration quits (logout, un-register)
// outside the timing.
func BenchmarkStart(b *testing.B) {
	sim := benchSim(b, nil)
	opts := benchOptions(b, sim, "agent1")
	var ds []time.Duration
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		c, err := New(opts)
		if err != nil {
			b.Fatal(err)
		}
		c.Start(context.Background())
		if err := c.Login(context.Background(), "", sitesim.DemoPassword, 0); err != nil {
			c.Close()
			b.Fatalf("Login: %v", err)
		}
		_, err = await(c, longWait, loggedInAt(1))
		ds = append(ds, time.Since(start))
		b.StopTimer()
		if err != nil {
			c.Close()
			b.Fatal(err)
		}
		if err := c.Quit(context.Background()); err != nil {
			b.Fatalf("Quit: %v", err)
		}
		b.StartTimer()
	}
	b.StopTimer()
	reportQuantiles(b, "", ds)
}

// loadAgents is how many desktops BenchmarkGracefulShutdownLoad runs in one
// process against one simulator.
const loadAgents = 300

// loadDirectory is the demo directory plus loadAgents agents who prefer
// site 1: load001.. with agent ids 20001.., DNs 7001.. and 8001...
func loadDirectory() (*directory.Directory, []string) {
	d := sitesim.Demo()
	users := make([]string, loadAgents)
	for i := range users {
		n := i + 1
		users[i] = fmt.Sprintf("load%03d", n)
		dns := [2]string{fmt.Sprint(7000 + n), fmt.Sprint(8000 + n)}
		d.AddPerson(directory.Person{
			UserName:  users[i],
			Password:  sitesim.DemoPassword,
			AgentID:   fmt.Sprint(20000 + n),
			FirstName: "Load",
			LastName:  fmt.Sprint(n),
			Annex: directory.Options{wire.SectionAgentDesktop: {
				wire.OptSite1: sitesim.DemoAppSite1, wire.OptSite2: sitesim.DemoAppSite2,
			}},
			Places: [2]string{"Place_" + dns[0] + "_A", "Place_" + dns[1] + "_B"},
			DNs:    dns,
		}, sitesim.DemoSIPPassword)
	}
	return d, users
}

// BC-19, BC-20: several hundred desktops in one process, all logged in at
// one site, whose graceful shutdown moves every one of them to the other
// site. Each iteration reports how long the last one took (from the
// shutdown to the latest switchover timeline's end) and how many were left
// behind, which must be none. Iterations alternate the sites.
func BenchmarkGracefulShutdownLoad(b *testing.B) {
	dir, users := loadDirectory()
	sim := benchSim(b, dir)
	cores := make([]*Core, len(users))
	errs := make([]error, len(users))
	// A few logins at a time: all at once would measure the simulator's
	// accept queue rather than anything of the desktop.
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for i, u := range users {
		opts := benchOptions(b, sim, u)
		// Keep-alives of hundreds of desktops on two cores: less eager, so
		// that the load does not read as a failing site.
		opts.Config.KeepAlive.Local = time.Second
		opts.Config.KeepAlive.Remote = 3 * time.Second
		opts.RequestTimeout = 10 * time.Second
		opts.PreferredSiteCache = ""
		c, err := New(opts)
		if err != nil {
			b.Fatal(err)
		}
		cores[i] = c
		c.Start(context.Background())
		b.Cleanup(c.Close)
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if err := c.Login(context.Background(), "", sitesim.DemoPassword, 0); err != nil {
				errs[i] = fmt.Errorf("%s: Login: %w", u, err)
				return
			}
			if _, err := await(c, time.Minute, loggedInAt(1)); err != nil {
				errs[i] = fmt.Errorf("%s: %w", u, err)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}

	var lasts []time.Duration
	leftBehind := 0
	cur := 1
	b.ResetTimer()
	for range b.N {
		site, err := sim.Site(cur)
		if err != nil {
			b.Fatal(err)
		}
		other := 3 - cur
		since := time.Now()
		site.GracefulShutdown()
		ends := make([]time.Time, len(cores))
		for i, c := range cores {
			wg.Go(func() {
				s, err := await(c, time.Minute, func(s State) bool {
					_, done := lastFinished(s, "switchover", since)
					return done && loggedInAt(other)(s)
				})
				errs[i] = err
				if err == nil {
					tl, _ := lastFinished(s, "switchover", since)
					ends[i] = tl.Finished
				}
			})
		}
		wg.Wait()
		var last time.Duration
		for i, err := range errs {
			if err != nil {
				leftBehind++
				b.Errorf("%s left behind at site %d: %v", users[i], cur, err)
				continue
			}
			last = max(last, ends[i].Sub(since))
		}
		lasts = append(lasts, last)
		if err := site.Revive(sitesim.ServerTServer); err != nil {
			b.Fatal(err)
		}
		cur = other
	}
	b.StopTimer()
	reportQuantiles(b, "last-", lasts)
	b.ReportMetric(float64(leftBehind), "left-behind")
	b.ReportMetric(loadAgents, "agents")
}
