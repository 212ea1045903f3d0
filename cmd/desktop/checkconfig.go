package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/tandem-softphone/tandem/config"
)

// checkConfig validates one provisioning file on its own, the way an admin
// checks a file before deploying it (docs/admin-guide.md): every problem is
// listed on stdout with its key and what is wrong, and the error says how
// many there were; a valid file gets a short summary of what it sets.
// Warnings (a password in the file) go to stderr through the logger.
func checkConfig(file string, stdout, stderr io.Writer) error {
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cfg, err := config.Load(config.LoadOptions{SystemFile: file, NoDefaultFiles: true, Logger: log})
	var problems []string
	if err != nil {
		problems = explain(err)
	} else if cfg.TLS.Enabled && cfg.TLS.CAFile != "" {
		// Load checks the path's form only; the desktop would fail at its
		// first connection.
		if _, err := os.Stat(cfg.TLS.CAFile); err != nil {
			problems = append(problems, fmt.Sprintf("tls.ca_file: cannot read the CA file: %v", err))
		}
	}
	if len(problems) > 0 {
		fmt.Fprintf(stdout, "%s: %d problem(s):\n", file, len(problems))
		for i, p := range problems {
			fmt.Fprintf(stdout, "  %d. %s\n", i+1, p)
		}
		fmt.Fprintln(stdout, "Every key is described in the annotated example tandem.toml and in the admin guide (docs/admin-guide.md).")
		return fmt.Errorf("%s: %d problem(s), see above", file, len(problems))
	}
	fmt.Fprint(stdout, summary(file, cfg))
	return nil
}

// explain turns Load's joined error into one line per problem: the key and
// what is wrong with it. The file is named once, in the heading.
func explain(err error) []string {
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	out := make([]string, 0, len(errs))
	for _, e := range errs {
		var ce *config.Error
		switch {
		case errors.As(e, &ce) && ce.Key != "":
			out = append(out, ce.Key+": "+ce.Err.Error())
		case errors.As(e, &ce):
			out = append(out, ce.Err.Error())
		default:
			out = append(out, e.Error())
		}
	}
	return out
}

// summary is what a valid file sets: the format, the user, and each site's
// objects and Config Server Proxy.
func summary(file string, cfg *config.Config) string {
	var b strings.Builder
	format := "TOML"
	if strings.EqualFold(filepath.Ext(file), ".properties") {
		format = "Java properties"
	}
	fmt.Fprintf(&b, "%s: OK (%s)\n", file, format)
	user := cfg.UserName
	if user == "" {
		user = "(not set: the login dialog asks)"
	}
	fmt.Fprintf(&b, "  user: %s\n", user)
	for i, s := range cfg.Sites {
		fmt.Fprintf(&b, "  site %d %q: application %s, place %s", i+1, s.Name, s.Application, s.Place)
		if s.DN != "" {
			fmt.Fprintf(&b, ", DN %s", s.DN)
		}
		fmt.Fprintf(&b, ", Config Server %s", s.ConfigServer.Primary)
		if !s.ConfigServer.Backup.IsZero() {
			fmt.Fprintf(&b, " (backup %s)", s.ConfigServer.Backup)
		}
		b.WriteString("\n")
	}
	return b.String()
}
