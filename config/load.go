package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/spf13/pflag"
)

// maxFileSize bounds what Load reads: a configuration file is a few hundred
// bytes; anything near this is the wrong file.
const maxFileSize = 1 << 20

// LoadOptions says where Load reads from.
type LoadOptions struct {
	// SystemFile and UserFile name the admin's and the user's files. Empty
	// means the default path (DefaultPaths), where a missing file is fine;
	// a file named here must exist.
	SystemFile, UserFile string
	// NoDefaultFiles skips the default paths of files left empty above
	// (tests, tools that are given every file).
	NoDefaultFiles bool
	// Flags are the command-line layer, with --config. May be nil.
	Flags *Flags
	// Logger gets the files read and password warnings; nil means
	// slog.Default().
	Logger *slog.Logger
}

// setting is one key set by one layer.
type setting struct {
	key    string // the TOML key
	name   string // the key as written in the source; empty for flags
	source string // a file, or "flag --x"
	dir    string // relative paths are relative to it; empty for the working directory
	value  any    // a string, or a decoded TOML value
}

// Load merges defaults, the system file, the user file, the --config file
// and the flags, then validates the result. The error joins every problem
// found (errors.Join of *Error), each naming its file or flag and key.
func Load(opts LoadOptions) (*Config, error) {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	l := newLoader(log)
	sys, user := DefaultPaths()
	for _, f := range []struct{ given, def string }{{opts.SystemFile, sys}, {opts.UserFile, user}} {
		switch {
		case f.given != "":
			l.file(f.given, true)
		case !opts.NoDefaultFiles && f.def != "":
			// The seed's bc.properties may stand beside tandem.toml (the
			// Windows installer's /CONFIG puts one there): it is read
			// first, so that the TOML file overrides it.
			l.file(filepath.Join(filepath.Dir(f.def), PropertiesName), false)
			l.file(f.def, false)
		}
	}
	if opts.Flags != nil {
		if *opts.Flags.config != "" {
			l.file(*opts.Flags.config, true)
		}
		l.apply(opts.Flags.settings())
	}
	return l.finish()
}

// loader accumulates the layers.
type loader struct {
	log     *slog.Logger
	cfg     *Config
	errs    []error
	failed  map[string]bool // keys whose last setting failed
	read    []string        // files read, in order
	sawProp bool            // a .properties file was read: hint its key names
	// incomplete: a file could not be read or parsed. What it would have set
	// is unknown, so missing keys are not reported.
	incomplete bool
}

func newLoader(log *slog.Logger) *loader {
	return &loader{log: log, cfg: Default(), failed: map[string]bool{}}
}

// file reads one file layer. A missing file is skipped unless it was named
// explicitly.
func (l *loader) file(name string, explicit bool) {
	data, err := readFile(name)
	if err != nil {
		if !explicit && errors.Is(err, fs.ErrNotExist) {
			l.log.Debug("config: no file at default path", "file", name)
			return
		}
		l.errs = append(l.errs, &Error{Source: name, Err: err})
		l.incomplete = true
		return
	}
	l.log.Info("config: reading file", "file", name)
	l.data(name, data)
}

func readFile(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return nil, pe.Err // the path is already the error's source
		}
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("larger than %d bytes: not a configuration file", maxFileSize)
	}
	return data, nil
}

// data applies one file's contents; the format follows the name.
func (l *loader) data(name string, data []byte) {
	var (
		settings []setting
		errs     []error
	)
	if strings.EqualFold(filepath.Ext(name), ".properties") {
		l.sawProp = true
		props, err := parseProperties(data)
		if err != nil {
			errs = []error{&Error{Source: name, Err: err}}
			l.incomplete = true
		} else {
			settings, errs = propertySettings(name, props, l.log)
		}
	} else {
		var ok bool
		settings, errs, ok = parseTOML(name, data, l.log)
		l.incomplete = l.incomplete || !ok
	}
	l.read = append(l.read, name)
	for _, err := range errs {
		if e, ok := err.(*Error); ok && e.canon != "" {
			l.failed[e.canon] = true
		}
	}
	l.errs = append(l.errs, errs...)
	l.apply(settings)
}

func (l *loader) apply(settings []setting) {
	for _, s := range settings {
		f := fieldByKey[s.key]
		// Paths become absolute, so that the file's directory still counts
		// when the Config is printed elsewhere.
		if v, ok := s.value.(string); ok && f.isPath && v != "" && !filepath.IsAbs(v) {
			if abs, err := filepath.Abs(filepath.Join(s.dir, v)); err == nil {
				s.value = abs
			}
		}
		if err := f.set(l.cfg, s.value); err != nil {
			l.errs = append(l.errs, &Error{Source: s.source, Key: s.name, Err: err})
			l.failed[s.key] = true
		} else {
			delete(l.failed, s.key)
		}
	}
}

func (l *loader) finish() (*Config, error) {
	source := "no configuration file read"
	if len(l.read) > 0 {
		source = strings.Join(l.read, ", ")
	}
	if !l.incomplete {
		l.errs = append(l.errs, l.cfg.check(source, l.failed, l.sawProp)...)
	}
	if len(l.errs) > 0 {
		return nil, errors.Join(l.errs...)
	}
	return l.cfg, nil
}

// PropertiesName is the file that Load also reads, before tandem.toml, in
// the directories of DefaultPaths: the seed's bc.properties format.
const PropertiesName = "bc.properties"

// DefaultPaths returns this OS's system-wide and per-user file paths. user is
// empty when the user's configuration directory is unknown.
//
//	Linux, BSD: /etc/tandem/tandem.toml, $XDG_CONFIG_HOME/tandem/tandem.toml (~/.config)
//	Windows:    %ProgramData%\Tandem\tandem.toml, %APPDATA%\Tandem\tandem.toml
//	macOS:      /Library/Application Support/Tandem/tandem.toml, ~/Library/Application Support/Tandem/tandem.toml
func DefaultPaths() (system, user string) {
	return defaultPaths(runtime.GOOS, os.Getenv, os.UserHomeDir)
}

// defaultPaths joins with the target OS's separator, so that every OS's
// answer can be tested on any OS.
func defaultPaths(goos string, getenv func(string) string, home func() (string, error)) (system, user string) {
	homeDir := func() string {
		h, err := home()
		if err != nil || !path.IsAbs(h) {
			return ""
		}
		return h
	}
	switch goos {
	case "windows":
		pd := strings.TrimRight(getenv("ProgramData"), `\`)
		if pd == "" {
			pd = `C:\ProgramData`
		}
		system = pd + `\Tandem\tandem.toml`
		if ad := strings.TrimRight(getenv("APPDATA"), `\`); ad != "" {
			user = ad + `\Tandem\tandem.toml`
		}
	case "darwin":
		system = "/Library/Application Support/Tandem/tandem.toml"
		if h := homeDir(); h != "" {
			user = path.Join(h, "Library/Application Support/Tandem/tandem.toml")
		}
	default:
		system = "/etc/tandem/tandem.toml"
		// The XDG spec says to ignore a relative XDG_CONFIG_HOME.
		if x := getenv("XDG_CONFIG_HOME"); path.IsAbs(x) {
			user = path.Join(x, "tandem/tandem.toml")
		} else if h := homeDir(); h != "" {
			user = path.Join(h, ".config/tandem/tandem.toml")
		}
	}
	return system, user
}

// Flags is the command-line layer.
type Flags struct {
	fs     *pflag.FlagSet
	config *string
	keys   map[string]string // flag name → TOML key
}

// flagName returns the flag that sets a TOML key: dots and underscores
// become dashes (site1.config_server.primary → site1-config-server-primary).
func flagName(key string) string {
	return strings.NewReplacer(".", "-", "_", "-").Replace(key)
}

// RegisterFlags adds --config and one flag per key to fs. Only the flags
// given on the command line override the files.
func RegisterFlags(fs *pflag.FlagSet) *Flags {
	f := &Flags{fs: fs, keys: map[string]string{}}
	f.config = fs.String("config", "", "extra configuration `file` (.toml or .properties), read after the system and user files")
	for _, fd := range fields {
		name := flagName(fd.key)
		if fd.isBool {
			fs.Bool(name, false, fd.usage)
		} else {
			fs.String(name, "", fd.usage)
		}
		f.keys[name] = fd.key
	}
	return f
}

// settings returns the flags that were set, as settings.
func (f *Flags) settings() []setting {
	var out []setting
	f.fs.Visit(func(fl *pflag.Flag) {
		if key, ok := f.keys[fl.Name]; ok {
			out = append(out, setting{key: key, source: "flag --" + fl.Name, value: fl.Value.String()})
		}
	})
	return out
}
