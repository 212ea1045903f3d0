// Command desktop is Tandem's agent desktop: a window (package gui) on the
// application core, or with --headless no window: the core's changes as JSON
// lines on stdout and commands as JSON lines on stdin (docs/headless.md).
// --demo starts the two simulated sites in-process and logs demo agent1 in.
// The logic is in packages core, gui and headless.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/tandem-softphone/tandem/config"
	"github.com/tandem-softphone/tandem/core"
	"github.com/tandem-softphone/tandem/headless"
	"github.com/tandem-softphone/tandem/internal/version"
	"github.com/tandem-softphone/tandem/sipua"
	"github.com/tandem-softphone/tandem/sitesim"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// usageError is a mistake on the command line (exit status 2).
type usageError struct{ error }

// flags are the desktop's own flags; config.RegisterFlags adds the
// provisioning ones (--config, --user, --site1-…).
type flags struct {
	headless      bool
	demo          bool
	demoEphemeral bool
	passwordFile  string
	control       string
	sipExpires    time.Duration
	sipPort       int
	cache         string
	stateDir      string
	logLevel      string
	version       bool
	checkConfig   string
}

// quitTimeout bounds the graceful end: logout and un-REGISTER.
const quitTimeout = 5 * time.Second

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	err := desktop(ctx, args, stdin, stdout, stderr)
	var ue usageError
	switch {
	case err == nil, errors.Is(err, pflag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "desktop: %v (see --help)\n", err)
		return 2
	default:
		fmt.Fprintf(stderr, "desktop: %v\n", err)
		return 1
	}
}

func desktop(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := pflag.NewFlagSet("desktop", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: desktop [--demo] [--headless] [flags]

Runs the agent desktop. With --headless there is no window: JSON lines on
stdout for every change, commands as JSON lines on stdin (see
docs/headless.md). The password comes from the login window,
--password-file, TANDEM_PASSWORD or a login command.

`)
		fs.PrintDefaults()
	}
	var f flags
	fs.BoolVar(&f.headless, "headless", false, "run without a window: JSON lines on stdout, commands on stdin")
	fs.BoolVar(&f.demo, "demo", false, "start the two simulated sites in-process and log demo agent1 (or --user) in")
	fs.BoolVar(&f.demoEphemeral, "ephemeral", false, "with --demo: let the system pick the simulated sites' ports (as sitesim --ephemeral)")
	fs.StringVar(&f.passwordFile, "password-file", "", "read the agent's password from this `file`")
	fs.StringVar(&f.control, "control", "", "also take commands on this loopback `host:port` (port 0: any)")
	fs.DurationVar(&f.sipExpires, "sip-expires", sipua.DefaultExpires, "registration `interval` asked of the SIP registrars")
	fs.IntVar(&f.sipPort, "sip-port", 0, "SIP UDP/TCP `port` of the endpoint (0: any)")
	fs.StringVar(&f.cache, "preferred-site-cache", defaultCache(), "`file` remembering each user's preferred site (BC-11); empty: none")
	fs.StringVar(&f.stateDir, "state-dir", defaultStateDir(), "`directory` of the user's state: the calls saved while they last (a crash leaves them to restore, BC-30) and the call history; empty: none")
	fs.StringVar(&f.logLevel, "log-level", "info", "log `level` on stderr: debug, info, warn, error")
	fs.BoolVar(&f.version, "version", false, "print the version and commit, and exit")
	fs.StringVar(&f.checkConfig, "check-config", "", "validate a provisioning `file` (.toml or .properties) on its own, explain every problem, and exit")
	cfgFlags := config.RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	if f.version {
		fmt.Fprintln(stdout, version.String())
		return nil
	}
	if f.checkConfig != "" {
		return checkConfig(f.checkConfig, stdout, stderr)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return usageError{fmt.Errorf("--log-level: %w", err)}
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(log) // sipgo logs through the default logger

	if !f.headless {
		if err := needDisplay(); err != nil {
			return err
		}
	}
	password, err := readPassword(f.passwordFile)
	if err != nil {
		return err
	}
	var cfg *config.Config
	var sim *sitesim.Sim
	if f.demo {
		if !fs.Changed("preferred-site-cache") {
			f.cache = "" // the demo's sites are new on every run
		}
		if !fs.Changed("state-dir") {
			f.stateDir = "" // the demo's calls end with its sites
		}
		sim, cfg, err = startDemo(fs, cfgFlags, f.demoEphemeral, log)
		if err != nil {
			return err
		}
		defer sim.Close()
		if password == "" {
			password = sitesim.DemoPassword
		}
	} else if cfg, err = config.Load(config.LoadOptions{Flags: cfgFlags, Logger: log}); err != nil {
		return err
	}

	c, err := core.New(core.Options{
		Config:             cfg,
		Logger:             log,
		SIPExpires:         f.sipExpires,
		Endpoint:           sipua.Options{ListenPort: f.sipPort, Audio: windowAudio(f.headless, log)},
		PreferredSiteCache: f.cache,
		StateDir:           f.stateDir,
	})
	if err != nil {
		return err
	}
	// The core outlives a signal: the signal asks for a graceful Quit.
	c.Start(context.Background())
	defer c.Close()

	if !f.headless {
		if password != "" && cfg.UserName != "" {
			go func() {
				lctx, cancel := context.WithTimeout(ctx, time.Minute)
				defer cancel()
				if err := c.Login(lctx, "", password, 0); err != nil {
					log.Error("login", "user", cfg.UserName, "err", err)
				}
			}()
		}
		runWindow(ctx, c, log)
		qctx, cancel := context.WithTimeout(context.Background(), quitTimeout)
		defer cancel()
		if err := c.Quit(qctx); err != nil && !errors.Is(err, core.ErrClosed) {
			log.Warn("quit", "err", err)
		}
		return nil
	}

	srvCtx, stopSrv := context.WithCancel(context.Background())
	defer stopSrv()
	hello := []any{"user", cfg.UserName, "pid", os.Getpid()}
	var ln net.Listener
	if f.control != "" {
		if ln, err = headless.Listen(f.control); err != nil {
			return err
		}
		hello = append(hello, "control", ln.Addr().String())
	}
	if sim != nil {
		hello = append(hello, "demo_control", sim.ControlAddr())
	}
	inputEnded := make(chan error, 1)
	srv := headless.New(headless.Options{
		Core: c, Logger: log, User: cfg.UserName, Password: password, Hello: hello,
		InputEnded: func(err error) { inputEnded <- err },
	})
	if ln != nil {
		go srv.ServeControl(srvCtx, ln)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(srvCtx, stdin, stdout) }()

	if password != "" && cfg.UserName != "" {
		go func() {
			lctx, cancel := context.WithTimeout(srvCtx, time.Minute)
			defer cancel()
			if err := c.Login(lctx, "", password, 0); err != nil {
				log.Error("login", "user", cfg.UserName, "err", err)
			}
		}()
	}

	for end := false; !end; {
		select {
		case <-ctx.Done():
			log.Info("signal: quitting")
			end = true
		case <-c.Done(): // a quit command
			end = true
		case err := <-inputEnded:
			if err != nil {
				log.Warn("stdin", "err", err)
			}
			// With --control, commands keep coming there.
			if f.control == "" {
				log.Info("stdin ended: quitting")
				end = true
			}
		}
	}
	qctx, cancel := context.WithTimeout(context.Background(), quitTimeout)
	defer cancel()
	if err := c.Quit(qctx); err != nil && !errors.Is(err, core.ErrClosed) {
		log.Warn("quit", "err", err)
	}
	<-served // the last lines: Serve ends once the core has stopped
	return nil
}

// readPassword reads the password from a file, or from TANDEM_PASSWORD;
// "" when neither gives one. It is never logged.
func readPassword(file string) (string, error) {
	if file == "" {
		return os.Getenv("TANDEM_PASSWORD"), nil
	}
	fh, err := os.Open(file)
	if err != nil {
		return "", fmt.Errorf("password file: %w", err)
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, 4097))
	if err != nil {
		return "", fmt.Errorf("password file: %w", err)
	}
	if len(data) > 4096 {
		return "", fmt.Errorf("password file %s: larger than 4096 bytes", file)
	}
	return strings.TrimRight(string(data), "\r\n"), nil
}

// defaultStateDir is $XDG_STATE_HOME/tandem, else ~/.local/state/tandem;
// on Windows and macOS, which have no state directory, the user's
// configuration directory's tandem/state.
func defaultStateDir() string {
	if dir := os.Getenv("XDG_STATE_HOME"); dir != "" {
		return filepath.Join(dir, "tandem")
	}
	if runtime.GOOS == "windows" || runtime.GOOS == "darwin" {
		dir, err := os.UserConfigDir()
		if err != nil {
			return ""
		}
		return filepath.Join(dir, "tandem", "state")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".local", "state", "tandem")
}

func defaultCache() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "tandem", "preferred-site.json")
}

// startDemo starts the simulated sites and returns the desktop's
// configuration for them: the simulator's provisioning for the demo agent,
// with the command line's provisioning flags on top.
func startDemo(fs *pflag.FlagSet, cfgFlags *config.Flags, ephemeral bool, log *slog.Logger) (*sitesim.Sim, *config.Config, error) {
	opts := sitesim.Options{Logger: log}
	if ephemeral {
		opts.Sites = sitesim.EphemeralAddrs()
		opts.ControlAddr = "127.0.0.1:0"
	}
	sim := sitesim.New(opts)
	if err := sim.Start(context.Background()); err != nil {
		return nil, nil, fmt.Errorf("demo: %w", err)
	}
	user := "agent1"
	if fl := fs.Lookup("user"); fl != nil && fl.Changed {
		user = fl.Value.String()
	}
	base, err := sim.DesktopConfig(user)
	if err != nil {
		sim.Close()
		return nil, nil, fmt.Errorf("demo: %w", err)
	}
	cfg, err := layerFlags(base, cfgFlags, log)
	if err != nil {
		sim.Close()
		return nil, nil, fmt.Errorf("demo: %w", err)
	}
	log.Info("demo sites running", "control", sim.ControlAddr(), "user", user)
	return sim, cfg, nil
}

// layerFlags puts the command line's provisioning flags on top of base, the
// way config.Load layers them on files.
func layerFlags(base *config.Config, cfgFlags *config.Flags, log *slog.Logger) (*config.Config, error) {
	data, err := base.MarshalTOML()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "tandem-demo-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "demo.toml")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		return nil, err
	}
	return config.Load(config.LoadOptions{SystemFile: file, NoDefaultFiles: true, Flags: cfgFlags, Logger: log})
}
