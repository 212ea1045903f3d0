package core

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/tandem-softphone/tandem/sipua"
)

// The call history (State.CallHistory) outlives the run: it is kept in
// Options.StateDir/history.json, rewritten (atomically) when a call ends,
// and read at start. A damaged file is logged and the history starts
// empty; the next call that ends replaces the file.

const (
	historyFile    = "history.json"
	historyVersion = 1
	// maxHistoryFile bounds what is read: maxHistory calls take some 200 KiB.
	maxHistoryFile = 4 << 20
)

// historyDoc is the file's content.
type historyDoc struct {
	Version int              `json:"version"`
	Calls   []sipua.CallInfo `json:"calls"`
}

// decodeHistory reads a history file's content: the last maxHistory calls
// that ended, oldest first. Entries that are not an ended call are dropped.
func decodeHistory(data []byte) ([]sipua.CallInfo, error) {
	if len(data) > maxHistoryFile {
		return nil, fmt.Errorf("larger than %d bytes", maxHistoryFile)
	}
	var doc historyDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	if doc.Version != historyVersion {
		return nil, fmt.Errorf("version %d, want %d", doc.Version, historyVersion)
	}
	calls := make([]sipua.CallInfo, 0, min(len(doc.Calls), maxHistory))
	for _, ci := range doc.Calls {
		if ci.ID != "" && ci.State == sipua.CallEnded {
			calls = append(calls, ci)
		}
	}
	return calls[max(0, len(calls)-maxHistory):], nil
}

func encodeHistory(calls []sipua.CallInfo) ([]byte, error) {
	calls = calls[max(0, len(calls)-maxHistory):]
	return json.Marshal(historyDoc{Version: historyVersion, Calls: calls})
}

// loadHistory reads the history file; none is an empty history.
func loadHistory(path string) ([]sipua.CallInfo, error) {
	data, err := readBounded(path, maxHistoryFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	calls, err := decodeHistory(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return calls, nil
}

// writeHistory replaces the history file at once (a temporary file beside
// it, then renamed), readable by its owner only: it names the agent's
// callers.
func writeHistory(path string, calls []sipua.CallInfo) error {
	data, err := encodeHistory(calls)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return sipua.WriteBufferFile(path, data)
}
