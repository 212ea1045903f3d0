package core

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// prefCache remembers each user's preferred site in a small JSON file
// ({"agent1": 2}), so that the next start connects there first and needs no
// switchover (BC-11). The configuration is still read on every connect.
type prefCache struct{ path string }

// maxCacheSize bounds what load reads: the file holds a few names.
const maxCacheSize = 1 << 20

func (p prefCache) read() (map[string]int, error) {
	data, err := os.ReadFile(p.path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]int{}, nil
	}
	if err != nil {
		return nil, err
	}
	if len(data) > maxCacheSize {
		return nil, fmt.Errorf("%s: larger than %d bytes", p.path, maxCacheSize)
	}
	m := map[string]int{}
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", p.path, err)
	}
	return m, nil
}

// load returns the user's cached preferred site, or 0.
func (p prefCache) load(user string) int {
	if p.path == "" {
		return 0
	}
	m, err := p.read()
	if err != nil {
		return 0
	}
	if s := m[user]; s == 1 || s == 2 {
		return s
	}
	return 0
}

// store records the user's preferred site; the file is replaced at once
// (written beside it, then renamed) and readable by its owner only.
func (p prefCache) store(user string, site int) error {
	if p.path == "" {
		return nil
	}
	m, err := p.read()
	if err != nil {
		m = map[string]int{} // a damaged cache is rebuilt
	}
	if m[user] == site {
		return nil
	}
	m[user] = site
	data, err := json.Marshal(m)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p.path), 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(p.path), ".preferred-site-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, werr := f.Write(data)
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, p.path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
