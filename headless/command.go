package headless

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// MaxLine bounds one command line: a command is a few dozen bytes.
const MaxLine = 64 << 10

// Command is one JSON line read from stdin or the control port.
type Command struct {
	Cmd string `json:"cmd"`
	// ID is any JSON value; the reply carries it back.
	ID       json.RawMessage `json:"id,omitempty"`
	User     string          `json:"user,omitempty"`     // login
	Password string          `json:"password,omitempty"` // login; never logged nor echoed
	Reason   string          `json:"reason,omitempty"`   // not-ready
	Site     int             `json:"site,omitempty"`     // expire-registration, relaunch, login
	Number   string          `json:"number,omitempty"`   // dial
	Call     string          `json:"call,omitempty"`     // the call's id, for the call commands
	Digits   string          `json:"digits,omitempty"`   // dtmf
	Target   string          `json:"target,omitempty"`   // transfer: a number, or with "consult" a call id
	On       *bool           `json:"on,omitempty"`       // mute
}

// The commands.
const (
	CmdLogin              = "login"
	CmdReady              = "ready"
	CmdNotReady           = "not-ready"
	CmdAfterCallWork      = "after-call-work"
	CmdLogout             = "logout"
	CmdSwitchSite         = "switch-site"
	CmdExpireRegistration = "expire-registration"
	CmdRelaunch           = "relaunch"
	CmdState              = "state"
	CmdQuit               = "quit"
	CmdDial               = "dial"
	CmdAnswer             = "answer"
	CmdReject             = "reject"
	CmdHangup             = "hangup"
	CmdHold               = "hold"
	CmdResume             = "resume"
	CmdMute               = "mute"
	CmdDTMF               = "dtmf"
	CmdTransfer           = "transfer"
	CmdConsultTransfer    = "consult-transfer"
	CmdRestoreSavedCalls  = "restore-saved-calls"
	CmdDiscardSavedCalls  = "discard-saved-calls"
)

var commands = []string{
	CmdLogin, CmdReady, CmdNotReady, CmdAfterCallWork, CmdLogout, CmdSwitchSite,
	CmdExpireRegistration, CmdRelaunch, CmdState, CmdQuit,
	CmdDial, CmdAnswer, CmdReject, CmdHangup, CmdHold, CmdResume, CmdMute, CmdDTMF, CmdTransfer, CmdConsultTransfer,
	CmdRestoreSavedCalls, CmdDiscardSavedCalls,
}

// callCommands name a call and take what their map says.
var callCommands = map[string]string{
	CmdAnswer: "", CmdReject: "", CmdHangup: "", CmdHold: "", CmdResume: "",
	CmdMute: "on", CmdDTMF: "digits", CmdTransfer: "target", CmdConsultTransfer: "target",
}

// ParseCommand decodes and checks one command line. Unknown keys are
// errors, so that a typing mistake is not silently ignored.
func ParseCommand(line []byte) (Command, error) {
	var c Command
	if len(line) > MaxLine {
		return c, fmt.Errorf("command longer than %d bytes", MaxLine)
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Command{}, fmt.Errorf("not a command object: %w", err)
	}
	if dec.More() {
		return Command{}, errors.New("one command object per line")
	}
	// A refused command keeps its name and id, for the reply.
	refused := Command{Cmd: c.Cmd, ID: c.ID}
	if len(c.ID) > 0 && !json.Valid(c.ID) {
		return Command{Cmd: c.Cmd}, errors.New("id is not a JSON value")
	}
	if !slices.Contains(commands, c.Cmd) {
		return refused, fmt.Errorf("unknown cmd %q (one of %s)", c.Cmd, strings.Join(commands, ", "))
	}
	switch c.Cmd {
	case CmdExpireRegistration:
		if c.Site != 1 && c.Site != 2 {
			return refused, fmt.Errorf("%s needs \"site\": 1 or 2", c.Cmd)
		}
	case CmdRelaunch:
		if c.Site != 0 && c.Site != 1 && c.Site != 2 {
			return refused, fmt.Errorf("%s: \"site\" is 1 or 2 (or absent: the current site)", c.Cmd)
		}
	case CmdLogin:
		if c.Site != 0 && c.Site != 1 && c.Site != 2 {
			return refused, fmt.Errorf("%s: \"site\" is 1 or 2 (or absent: the preferred site)", c.Cmd)
		}
	default:
		if c.Site != 0 {
			return refused, fmt.Errorf("%s takes no \"site\"", c.Cmd)
		}
	}
	if c.Cmd == CmdDial && c.Number == "" {
		return refused, fmt.Errorf("%s needs \"number\"", c.Cmd)
	}
	if extra, ok := callCommands[c.Cmd]; ok {
		switch {
		case c.Call == "":
			return refused, fmt.Errorf("%s needs \"call\": the call's id", c.Cmd)
		case extra == "on" && c.On == nil:
			return refused, fmt.Errorf("%s needs \"on\": true or false", c.Cmd)
		case extra == "digits" && c.Digits == "":
			return refused, fmt.Errorf("%s needs \"digits\"", c.Cmd)
		case extra == "target" && c.Target == "":
			return refused, fmt.Errorf("%s needs \"target\"", c.Cmd)
		}
	}
	return c, nil
}
