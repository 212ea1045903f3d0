// Package headless runs the application core without a window: it writes
// one JSON object per line for every change of the core's state, and takes
// the agent's and the tester's intents as JSON lines, on stdin and on an
// optional loopback control port. docs/headless.md is the vocabulary.
package headless

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/tandem-softphone/tandem/core"
)

// Options configure a Server.
type Options struct {
	Core   *core.Core // required
	Logger *slog.Logger
	// User and Password are used by a login command that names none (the
	// password from --password-file or TANDEM_PASSWORD). Never logged.
	User, Password string
	// Hello are the fields of the "started" line every output begins with,
	// as alternating keys and values.
	Hello []any
	// InputEnded, if set, is called once Serve's input has ended: nil at its
	// end or after a quit command, else the read error.
	InputEnded func(error)
	// CommandTimeout bounds each command (default 30 s).
	CommandTimeout time.Duration
	// Now stamps the lines (default time.Now).
	Now func() time.Time
}

// Server speaks the JSON protocol for one core.
type Server struct {
	opts Options
	log  *slog.Logger
	// cmdMu runs one command at a time, whichever output it came from.
	cmdMu sync.Mutex
}

// New returns a Server.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.CommandTimeout <= 0 {
		opts.CommandTimeout = 30 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Server{opts: opts, log: opts.Logger}
}

// output is one stream of event lines: stdout, or a control connection.
type output struct {
	s   *Server
	mu  sync.Mutex
	w   io.Writer
	err error // the first write error: the reader is gone
}

func (o *output) emit(event string, kv ...any) {
	line := encodeLine(o.s.opts.Now(), event, kv)
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.err != nil {
		return
	}
	if _, err := o.w.Write(line); err != nil {
		o.err = err
		o.s.log.Warn("headless output lost", "err", err)
	}
}

// follow writes a "started" line, then the core's changes, until the
// returned function is called; that one writes the last changes (the end
// of a quit) before it returns. joining: the output starts while the core
// runs, and is not told the notices and timelines of before.
func (s *Server) follow(o *output, joining bool) (stop func()) {
	o.emit("started", s.opts.Hello...)
	var (
		mu    sync.Mutex
		d     = baseline(s.opts.Core.Snapshot(), joining)
		ended bool
	)
	cancel := s.opts.Core.Subscribe(func(st core.State) {
		mu.Lock()
		defer mu.Unlock()
		if !ended {
			d.diff(st, s.opts.Now(), o.emit)
		}
	})
	return func() {
		cancel()
		mu.Lock()
		defer mu.Unlock()
		d.diff(s.opts.Core.Snapshot(), s.opts.Now(), o.emit)
		ended = true // a call still on its way has an older state
	}
}

// Serve writes the core's changes to out, and runs the commands read from
// in, until the core stops (the last changes written) or ctx ends. When in
// ends first, Options.InputEnded is told and the changes keep coming; a
// reader of in that never ends is left behind.
func (s *Server) Serve(ctx context.Context, in io.Reader, out io.Writer) error {
	o := &output{s: s, w: out}
	stop := s.follow(o, false)
	defer stop()
	go func() {
		err := s.readCommands(ctx, in, o)
		if s.opts.InputEnded != nil {
			s.opts.InputEnded(err)
		}
	}()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-s.opts.Core.Done():
		return nil
	}
}

// readCommands runs every command line of in, replying on o, until in ends
// or a quit command ran. A line longer than MaxLine is refused and skipped.
func (s *Server) readCommands(ctx context.Context, in io.Reader, o *output) error {
	r := bufio.NewReader(in)
	for {
		line, tooLong, err := readLine(r)
		switch {
		case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
			return nil
		case err != nil:
			return fmt.Errorf("read commands: %w", err)
		case tooLong:
			o.emit("reply", "cmd", "", "ok", false, "error", fmt.Sprintf("command longer than %d bytes", MaxLine))
		case len(line) == 0:
		case s.command(ctx, line, o):
			return nil
		}
	}
}

// readLine reads one line without its end; tooLong: it had more than
// MaxLine bytes, which were dropped.
func readLine(r *bufio.Reader) (line []byte, tooLong bool, err error) {
	for {
		part, more, err := r.ReadLine()
		if err != nil {
			return nil, false, err
		}
		if !tooLong {
			if len(line)+len(part) > MaxLine {
				tooLong, line = true, nil
			} else {
				line = append(line, part...)
			}
		}
		if !more {
			return line, tooLong, nil
		}
	}
}

// command parses and runs one line, and replies. It reports whether the
// command was quit.
func (s *Server) command(ctx context.Context, line []byte, o *output) bool {
	c, err := ParseCommand(line)
	if err == nil {
		s.log.Info("headless: command", "cmd", c.Cmd, "site", c.Site)
		s.cmdMu.Lock()
		err = s.run(ctx, c, o)
		s.cmdMu.Unlock()
	}
	reply := []any{"cmd", c.Cmd}
	if len(c.ID) > 0 {
		reply = append(reply, "id", c.ID)
	}
	if err != nil {
		s.log.Info("headless: command failed", "cmd", c.Cmd, "err", err)
		reply = append(reply, "ok", false, "error", err.Error())
	} else {
		reply = append(reply, "ok", true)
	}
	o.emit("reply", reply...)
	return err == nil && c.Cmd == CmdQuit
}

func (s *Server) run(ctx context.Context, c Command, o *output) error {
	ctx, cancel := context.WithTimeout(ctx, s.opts.CommandTimeout)
	defer cancel()
	cr := s.opts.Core
	switch c.Cmd {
	case CmdLogin:
		user, pw := c.User, c.Password
		if user == "" {
			user = s.opts.User
		}
		if pw == "" {
			pw = s.opts.Password
		}
		return cr.Login(ctx, user, pw, c.Site)
	case CmdReady:
		return cr.Ready(ctx)
	case CmdNotReady:
		return cr.NotReady(ctx, c.Reason)
	case CmdAfterCallWork:
		return cr.AfterCallWork(ctx)
	case CmdLogout:
		return cr.Logout(ctx)
	case CmdSwitchSite:
		return cr.SwitchSite()
	case CmdExpireRegistration:
		return cr.ExpireRegistration(c.Site)
	case CmdRelaunch:
		site := c.Site
		if site == 0 {
			site = cr.Snapshot().Site
		}
		if site == 0 {
			return errors.New("relaunch: no current site: name one")
		}
		return cr.Relaunch(site)
	case CmdState:
		o.emit("state", "state", viewOf(cr.Snapshot()))
		return nil
	case CmdQuit:
		return cr.Quit(ctx)
	case CmdDial:
		return cr.Dial(ctx, c.Number)
	case CmdAnswer:
		return cr.Answer(c.Call)
	case CmdReject:
		return cr.Reject(c.Call)
	case CmdHangup:
		return cr.Hangup(c.Call)
	case CmdHold:
		return cr.Hold(c.Call)
	case CmdResume:
		return cr.Resume(c.Call)
	case CmdMute:
		return cr.Mute(c.Call, *c.On)
	case CmdDTMF:
		return cr.SendDTMF(c.Call, c.Digits)
	case CmdTransfer:
		return cr.Transfer(c.Call, c.Target)
	case CmdConsultTransfer:
		return cr.AttendedTransfer(c.Call, c.Target)
	case CmdRestoreSavedCalls:
		return cr.RestoreSavedCalls()
	case CmdDiscardSavedCalls:
		return cr.DiscardSavedCalls()
	}
	return fmt.Errorf("unknown cmd %q", c.Cmd)
}

// Listen opens the control port: loopback addresses only, as the commands
// carry no authentication.
func Listen(addr string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("control address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("control address %q: only loopback addresses are served (the commands carry no authentication)", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("control port: %w", err)
	}
	return ln, nil
}

// ServeControl serves the protocol on the control port until ctx ends: each
// connection gets the event lines (from the current state on) and the
// replies to the commands it sends. It closes ln and returns once every
// connection has ended.
func (s *Server) ServeControl(ctx context.Context, ln net.Listener) {
	var wg sync.WaitGroup
	defer wg.Wait()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	s.log.Info("headless: control port", "addr", ln.Addr().String())
	for {
		conn, err := ln.Accept()
		if err != nil {
			ln.Close()
			return
		}
		wg.Go(func() { s.serveConn(ctx, conn) })
	}
}

func (s *Server) serveConn(ctx context.Context, conn net.Conn) {
	defer conn.Close()
	stopClose := context.AfterFunc(ctx, func() { conn.Close() })
	defer stopClose()
	o := &output{s: s, w: conn}
	stop := s.follow(o, true)
	defer stop()
	if err := s.readCommands(ctx, conn, o); err != nil {
		s.log.Debug("headless: control connection", "err", err)
	}
}
