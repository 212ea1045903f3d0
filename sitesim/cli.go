package sitesim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// usageError is a mistake on the command line (exit status 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{msg: fmt.Sprintf(format, args...)} }

// Main runs the sitesim command with args (without the program name) and
// returns its exit status: 0, 1 on failure, 2 on a usage error.
//
//	sitesim --demo [--print-config [--user NAME]] [addresses and options]
//	sitesim ctl [--addr HOST:PORT] COMMAND [flags]
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var err error
	if len(args) > 0 && args[0] == "ctl" {
		err = runCtl(ctx, args[1:], stdout, stderr)
	} else {
		err = runServe(ctx, args, stdout, stderr)
	}
	var ue *usageError
	switch {
	case err == nil, errors.Is(err, pflag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "sitesim: %v (see --help)\n", err)
		return 2
	default:
		fmt.Fprintf(stderr, "sitesim: %v\n", err)
		return 1
	}
}

// addrFlag names one listening address of a site on the command line.
type addrFlag struct {
	name string // flag name without the "siteN-" prefix, as Kill names the server
	get  func(*SiteAddrs) *string
}

var addrFlags = []addrFlag{
	{"config-primary", func(a *SiteAddrs) *string { return &a.ConfigPrimary }},
	{"config-backup", func(a *SiteAddrs) *string { return &a.ConfigBackup }},
	{"tserver-primary", func(a *SiteAddrs) *string { return &a.TServerPrimary }},
	{"tserver-backup", func(a *SiteAddrs) *string { return &a.TServerBackup }},
	{"stat-primary", func(a *SiteAddrs) *string { return &a.StatPrimary }},
	{"stat-backup", func(a *SiteAddrs) *string { return &a.StatBackup }},
	{"sip", func(a *SiteAddrs) *string { return &a.SIP }},
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := pflag.NewFlagSet("sitesim", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: sitesim --demo [flags]
       sitesim ctl [--addr HOST:PORT] COMMAND [flags]   (sitesim ctl --help)

Runs two simulated SIP Business Continuity sites on loopback and prints one
ready line. Addresses take host:port or a bare port (on 127.0.0.1); port 0
lets the system pick. See docs/simulator.md.

`)
		fs.PrintDefaults()
	}
	demo := fs.Bool("demo", false, "run the demo sites, agents and ports (required: the only data set for now)")
	printConfig := fs.Bool("print-config", false, "print the desktop's provisioning TOML for the demo and exit")
	user := fs.String("user", "agent1", "the demo agent whose provisioning --print-config prints")
	control := fs.String("control", DefaultControlAddr, "control interface `address`")
	ephemeral := fs.Bool("ephemeral", false, "let the system pick every port not set by a flag")
	keepAlive := fs.Duration("keepalive", 30*time.Second, "the servers' keep-alive timeout when a client asks for none (BC-5)")
	minExpires := fs.Duration("sip-min-expires", time.Second, "the shortest SIP registration the registrars accept (whole seconds)")
	allowOOS := fs.Bool("allow-login-out-of-service", false, "let agents log in at a DN whose phone is not registered at that site")
	logLevel := fs.String("log-level", "info", "log `level` on stderr: debug, info, warn, error")
	addrs := DefaultAddrs()
	for i := range addrs {
		for _, f := range addrFlags {
			p := f.get(&addrs[i])
			fs.StringVar(p, fmt.Sprintf("site%d-%s", i+1, f.name), *p, fmt.Sprintf("site %d %s `address`", i+1, f.name))
		}
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return err
		}
		return usagef("%v", err)
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	if !*demo {
		return usagef("nothing to run: give --demo")
	}
	for i := range addrs {
		for _, f := range addrFlags {
			name := fmt.Sprintf("site%d-%s", i+1, f.name)
			p := f.get(&addrs[i])
			if *ephemeral && !fs.Changed(name) {
				*p = "127.0.0.1:0"
			}
			v, err := flagAddr(*p)
			if err != nil {
				return usagef("--%s: %v", name, err)
			}
			*p = v
		}
	}
	if *ephemeral && !fs.Changed("control") {
		*control = "127.0.0.1:0"
	}
	ctl, err := flagAddr(*control)
	if err != nil {
		return usagef("--control: %v", err)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return usagef("--log-level: %v", err)
	}
	opts := Options{
		Sites:                  addrs,
		ControlAddr:            ctl,
		KeepAlive:              *keepAlive,
		SIPMinExpires:          *minExpires,
		AllowLoginOutOfService: *allowOOS,
		Logger:                 slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})),
	}
	if *printConfig {
		c, err := DesktopConfig(opts, *user)
		if err != nil {
			return err
		}
		b, _ := c.MarshalTOML()
		fmt.Fprintf(stdout, "# Tandem desktop provisioning for the sitesim demo: user %s, password %q.\n", *user, DemoPassword)
		_, err = stdout.Write(b)
		return err
	}
	sim := New(opts)
	if err := sim.Start(ctx); err != nil {
		return err
	}
	defer sim.Close()
	fmt.Fprintln(stdout, readyLine(sim))
	<-ctx.Done()
	return nil
}

// flagAddr accepts host:port or a bare port (on 127.0.0.1).
func flagAddr(v string) (string, error) {
	if !strings.Contains(v, ":") {
		v = "127.0.0.1:" + v
	}
	if _, _, err := net.SplitHostPort(v); err != nil {
		return "", err
	}
	return loopbackAddr(v)
}

// readyLine tells that the simulator runs and where, as key=value pairs.
func readyLine(s *Sim) string {
	parts := []string{"sitesim ready", "control=" + s.ControlAddr(), "ua-sip=" + s.ua.Addr().String()}
	for _, site := range s.sites {
		a := site.Addrs()
		p := fmt.Sprintf("site%d.", site.Number())
		parts = append(parts,
			p+"config="+a.ConfigPrimary+","+a.ConfigBackup,
			p+"tserver="+a.TServerPrimary+","+a.TServerBackup,
			p+"stat="+a.StatPrimary+","+a.StatBackup,
			p+"sip-udp="+a.SIP,
			p+"sip-tcp="+site.SIPTCPAddr())
	}
	return strings.Join(parts, " ")
}

const ctlUsage = `Usage: sitesim ctl [--addr HOST:PORT] COMMAND [flags]

Commands:
  status                                           sites, servers, registrations per DN, agents
  expire-registration --site N --dn DN             drop a DN's SIP registration as if it expired
  graceful-shutdown --site N                       log every agent out (graceful_shutdown_logout)
  kill --site N [--server S] [--mode close|blackhole]
                                                   make servers fail (default all, close)
  revive --site N [--server S]                     bring servers back (default all)
  force-logout --site N --agent ID --reason TEXT   a supervisor's logout
  events [--since N] [--follow]                    the T-Server events as JSON lines
  call --to NUMBER [--site N] [--audio FILE.wav] [--record FILE.wav] [--duration D]
                                                   a simulated customer calls an agent's DN or a
                                                   test number through a site (default 1), playing
                                                   the file (default a tone); prints the call id
  hangup --call ID                                 hang a call up
  calls                                            the calls of the customers and test numbers
  mwi DN NEW OLD                                   voice messages waiting in DN's mailbox: the
                                                   subscribed desktops are told (message-summary)

Test numbers: 9000 echoes what it hears, 9001 plays a tone, 9002 is busy.

Servers: all, tserver, tserver-primary, tserver-backup, config, config-primary,
config-backup, stat, stat-primary, stat-backup, sip.
`

func runCtl(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	addr := DefaultControlAddr
	global := pflag.NewFlagSet("sitesim ctl", pflag.ContinueOnError)
	global.SetOutput(stderr)
	global.SetInterspersed(false)
	global.Usage = func() { fmt.Fprint(stderr, ctlUsage) }
	global.StringVar(&addr, "addr", addr, "control interface `address`")
	if err := global.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return err
		}
		return usagef("ctl: %v", err)
	}
	if global.NArg() == 0 {
		return usagef("ctl: a command is required: status, expire-registration, graceful-shutdown, kill, revive, force-logout, events, call, hangup, calls, mwi")
	}
	cmd, rest := global.Arg(0), global.Args()[1:]
	fs := pflag.NewFlagSet("sitesim ctl "+cmd, pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, ctlUsage) }
	fs.StringVar(&addr, "addr", addr, "control interface `address`")
	var (
		site           int
		dn, agent, why string
		server, mode   string
		since          uint64
		follow         bool
		call           CallRequest
		duration       time.Duration
		callID         string
	)
	needSite := func() { fs.IntVar(&site, "site", 0, "site `N`: 1 or 2") }
	switch cmd {
	case "status":
	case "expire-registration":
		needSite()
		fs.StringVar(&dn, "dn", "", "the `DN`")
	case "graceful-shutdown":
		needSite()
	case "kill":
		needSite()
		fs.StringVar(&server, "server", string(ServerAll), "`server` to kill")
		fs.StringVar(&mode, "mode", string(ModeClose), "close or blackhole")
	case "revive":
		needSite()
		fs.StringVar(&server, "server", string(ServerAll), "`server` to revive")
	case "force-logout":
		needSite()
		fs.StringVar(&agent, "agent", "", "agent `ID` (or user name)")
		fs.StringVar(&why, "reason", "", "the supervisor's reason `code`")
	case "events":
		fs.Uint64Var(&since, "since", 0, "print the events after sequence number `N`")
		fs.BoolVar(&follow, "follow", false, "keep printing new events until interrupted")
	case "call":
		fs.StringVar(&call.To, "to", "", "the `NUMBER` to call: an agent's DN or a test number")
		fs.IntVar(&site, "site", 1, "the site `N` the call goes through: 1 or 2")
		fs.StringVar(&call.Audio, "audio", "", "WAV `FILE` to play (default a tone)")
		fs.StringVar(&call.Record, "record", "", "WAV `FILE` to record what the customer hears")
		fs.DurationVar(&duration, "duration", 0, "hang up this long after the answer (default: never)")
	case "hangup":
		fs.StringVar(&callID, "call", "", "the call `ID`")
	case "calls":
	case "mwi":
	default:
		return usagef("ctl: unknown command %q", cmd)
	}
	if err := fs.Parse(rest); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return err
		}
		return usagef("ctl %s: %v", cmd, err)
	}
	var counts [2]int
	if cmd == "mwi" {
		if fs.NArg() != 3 {
			return usagef("ctl mwi: DN NEW OLD are required, e.g. ctl mwi 5001 2 5")
		}
		dn = fs.Arg(0)
		for i := range counts {
			n, err := strconv.Atoi(fs.Arg(i + 1))
			if err != nil || n < 0 {
				return usagef("ctl mwi: %q is not a message count", fs.Arg(i+1))
			}
			counts[i] = n
		}
	} else if fs.NArg() > 0 {
		return usagef("ctl %s: unexpected argument %q", cmd, fs.Arg(0))
	}
	if fs.Lookup("site") != nil && site != 1 && site != 2 {
		return usagef("ctl %s: --site 1 or --site 2 is required", cmd)
	}
	for _, req := range []struct{ name, v string }{{"dn", dn}, {"agent", agent}, {"reason", why}, {"to", call.To}, {"call", callID}} {
		if fs.Lookup(req.name) != nil && req.v == "" {
			return usagef("ctl %s: --%s is required", cmd, req.name)
		}
	}

	c := NewClient(addr)
	done := func(err error, format string, args ...any) error {
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, format+"\n", args...)
		return err
	}
	switch cmd {
	case "status":
		st, err := c.Status(ctx)
		if err != nil {
			return err
		}
		b, _ := json.MarshalIndent(st, "", "  ")
		_, err = fmt.Fprintf(stdout, "%s\n", b)
		return err
	case "expire-registration":
		return done(c.ExpireRegistration(ctx, site, dn), "site %d: registration of DN %s expired", site, dn)
	case "graceful-shutdown":
		return done(c.GracefulShutdown(ctx, site), "site %d: graceful shutdown started", site)
	case "kill":
		return done(c.Kill(ctx, site, Server(server), FaultMode(mode)), "site %d: %s killed (%s)", site, server, mode)
	case "revive":
		return done(c.Revive(ctx, site, Server(server)), "site %d: %s revived", site, server)
	case "force-logout":
		return done(c.ForceLogout(ctx, site, agent, why), "site %d: agent %s logged out (%s)", site, agent, why)
	case "call":
		if duration < 0 {
			return usagef("ctl call: --duration must not be negative")
		}
		if duration > 0 {
			call.Duration = duration.String()
		}
		call.Site = site
		// The simulator opens the files: give it paths that do not depend
		// on its working directory.
		for _, p := range []*string{&call.Audio, &call.Record} {
			if *p != "" {
				abs, err := filepath.Abs(*p)
				if err != nil {
					return fmt.Errorf("ctl call: %w", err)
				}
				*p = abs
			}
		}
		id, err := c.Call(ctx, call)
		return done(err, "%s", id)
	case "hangup":
		return done(c.Hangup(ctx, callID), "call %s: hung up", callID)
	case "mwi":
		return done(c.SetMessages(ctx, dn, counts[0], counts[1]), "DN %s: %d new, %d old voice messages", dn, counts[0], counts[1])
	case "calls":
		calls, err := c.Calls(ctx)
		if err != nil {
			return err
		}
		b, _ := json.MarshalIndent(calls, "", "  ")
		_, err = fmt.Fprintf(stdout, "%s\n", b)
		return err
	default: // events
		enc := json.NewEncoder(stdout)
		return c.Events(ctx, since, follow, func(e LogEntry) error { return enc.Encode(e) })
	}
}
