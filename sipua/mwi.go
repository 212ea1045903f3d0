package sipua

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// EventMessageSummary is the message-waiting event package (RFC 3842).
const EventMessageSummary = "message-summary"

// MessageSummary is the body of a message-summary NOTIFY (RFC 3842): the
// subscription's SubscriptionInfo.Content for that package.
type MessageSummary struct {
	// Waiting is the Messages-Waiting line: whether new messages wait.
	Waiting bool
	// Account is the Message-Account line (the mailbox), "" when absent.
	Account string
	// Counts are the summary lines by message class in lower case:
	// "voice-message", "fax-message", "pager-message",
	// "multimedia-message", "text-message" or "none".
	Counts map[string]MessageCounts
}

// MessageCounts is one summary line: "Voice-Message: 2/8 (1/0)".
type MessageCounts struct {
	New, Old             int
	UrgentNew, UrgentOld int
}

// Voice returns the counts of voice messages.
func (m MessageSummary) Voice() MessageCounts { return m.Counts["voice-message"] }

// String writes m as an application/simple-message-summary body.
func (m MessageSummary) String() string {
	var b strings.Builder
	b.WriteString("Messages-Waiting: ")
	if m.Waiting {
		b.WriteString("yes\r\n")
	} else {
		b.WriteString("no\r\n")
	}
	if m.Account != "" {
		fmt.Fprintf(&b, "Message-Account: %s\r\n", m.Account)
	}
	classes := make([]string, 0, len(m.Counts))
	for c := range m.Counts {
		classes = append(classes, c)
	}
	slices.Sort(classes)
	for _, c := range classes {
		n := m.Counts[c]
		fmt.Fprintf(&b, "%s: %d/%d (%d/%d)\r\n", c, n.New, n.Old, n.UrgentNew, n.UrgentOld)
	}
	return b.String()
}

// messageClasses are the message-context-class values of RFC 3458, which
// RFC 3842 uses as summary line names.
var messageClasses = []string{"voice-message", "fax-message", "pager-message", "multimedia-message", "text-message", "none"}

// ParseMessageSummary reads an application/simple-message-summary body.
// Lines of unknown names are skipped; the optional message headers after
// the first empty line are not read.
func ParseMessageSummary(body []byte) (MessageSummary, error) {
	var m MessageSummary
	waiting := false
	for line := range strings.Lines(string(body)) {
		line = strings.TrimRight(line, "\r\n")
		if strings.TrimSpace(line) == "" {
			if waiting {
				break
			}
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return MessageSummary{}, fmt.Errorf("message summary: line %q has no colon", line)
		}
		name, value = strings.ToLower(strings.TrimSpace(name)), strings.TrimSpace(value)
		switch {
		case name == "messages-waiting":
			switch strings.ToLower(value) {
			case "yes":
				m.Waiting = true
			case "no":
				m.Waiting = false
			default:
				return MessageSummary{}, fmt.Errorf("message summary: Messages-Waiting %q", value)
			}
			waiting = true
		case name == "message-account":
			if strings.ContainsFunc(value, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
				return MessageSummary{}, errors.New("message summary: control characters in Message-Account")
			}
			m.Account = value
		case slices.Contains(messageClasses, name):
			n, err := parseMessageCounts(value)
			if err != nil {
				return MessageSummary{}, fmt.Errorf("message summary: %s: %w", name, err)
			}
			if m.Counts == nil {
				m.Counts = make(map[string]MessageCounts)
			}
			m.Counts[name] = n
		}
	}
	if !waiting {
		return MessageSummary{}, errors.New("message summary: no Messages-Waiting line")
	}
	return m, nil
}

// parseMessageCounts reads "new/old" with an optional "(urgent-new/urgent-old)".
func parseMessageCounts(v string) (MessageCounts, error) {
	main, urgent, hasUrgent := strings.Cut(v, "(")
	var n MessageCounts
	var err error
	if n.New, n.Old, err = parsePair(main); err != nil {
		return n, err
	}
	if hasUrgent {
		inner, ok := strings.CutSuffix(strings.TrimSpace(urgent), ")")
		if !ok {
			return n, fmt.Errorf("counts %q: unclosed parenthesis", v)
		}
		if n.UrgentNew, n.UrgentOld, err = parsePair(inner); err != nil {
			return n, err
		}
	}
	return n, nil
}

// parsePair reads "a/b" of non-negative counts.
func parsePair(s string) (int, int, error) {
	a, b, ok := strings.Cut(s, "/")
	if !ok {
		return 0, 0, fmt.Errorf("counts %q: no slash", s)
	}
	x, err1 := parseCount(a)
	y, err2 := parseCount(b)
	if err := errors.Join(err1, err2); err != nil {
		return 0, 0, err
	}
	return x, y, nil
}

func parseCount(s string) (int, error) {
	n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 31)
	if err != nil {
		return 0, fmt.Errorf("count %q: %w", s, err)
	}
	return int(n), nil
}

// messageSummaryPackage is the message-summary event package.
type messageSummaryPackage struct{}

func (messageSummaryPackage) Name() string   { return EventMessageSummary }
func (messageSummaryPackage) Accept() string { return "application/simple-message-summary" }
func (messageSummaryPackage) Parse(body []byte) (any, error) {
	return ParseMessageSummary(body)
}
