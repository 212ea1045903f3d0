package sipua

import (
	"testing"
)

func TestParseMessageSummary(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     string // the parsed summary written again; "" when refused
	}{
		{"rfc3842 example", "Messages-Waiting: yes\r\nMessage-Account: sip:alice@vmail.example.com\r\nVoice-Message: 2/8 (0/2)\r\n",
			"Messages-Waiting: yes\r\nMessage-Account: sip:alice@vmail.example.com\r\nvoice-message: 2/8 (0/2)\r\n"},
		{"no urgent counts, any case", "messages-waiting: No\nvoice-message: 0/3\nFax-Message: 1/0\n",
			"Messages-Waiting: no\r\nfax-message: 1/0 (0/0)\r\nvoice-message: 0/3 (0/0)\r\n"},
		{"message headers after the summary", "Messages-Waiting: yes\r\nVoice-Message: 1/0\r\n\r\nTo: <sip:alice@example.com>\r\nVoice-Message: 9/9\r\n",
			"Messages-Waiting: yes\r\nvoice-message: 1/0 (0/0)\r\n"},
		{"unknown lines skipped", "Messages-Waiting: yes\r\nX-Thing: 5\r\n", "Messages-Waiting: yes\r\n"},
		{"no messages-waiting", "Voice-Message: 1/0\r\n", ""},
		{"bad yes/no", "Messages-Waiting: maybe\r\n", ""},
		{"bad counts", "Messages-Waiting: yes\r\nVoice-Message: 1-0\r\n", ""},
		{"negative count", "Messages-Waiting: yes\r\nVoice-Message: -1/0\r\n", ""},
		{"huge count", "Messages-Waiting: yes\r\nVoice-Message: 99999999999/0\r\n", ""},
		{"unclosed urgent", "Messages-Waiting: yes\r\nVoice-Message: 1/0 (1/0\r\n", ""},
		{"no colon", "Messages-Waiting yes\r\n", ""},
		{"empty", "", ""},
	} {
		m, err := ParseMessageSummary([]byte(tc.in))
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("%s: accepted as %+v", tc.name, m)
		case tc.want != "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && m.String() != tc.want:
			t.Errorf("%s: got %q, want %q", tc.name, m.String(), tc.want)
		}
	}
	m, _ := ParseMessageSummary([]byte("Messages-Waiting: yes\r\nVoice-Message: 3/4 (1/2)\r\n"))
	if v := m.Voice(); v != (MessageCounts{New: 3, Old: 4, UrgentNew: 1, UrgentOld: 2}) {
		t.Errorf("Voice() = %+v", v)
	}
}

// FuzzParseMessageSummary: any body is parsed or refused without a panic,
// and what is parsed reads back the same once written.
func FuzzParseMessageSummary(f *testing.F) {
	f.Add([]byte("Messages-Waiting: yes\r\nVoice-Message: 2/8 (0/2)\r\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := ParseMessageSummary(body)
		if err != nil {
			return
		}
		again, err := ParseMessageSummary([]byte(m.String()))
		if err != nil {
			t.Fatalf("written summary %q refused: %v", m.String(), err)
		}
		if again.String() != m.String() {
			t.Fatalf("round trip %q became %q", m.String(), again.String())
		}
	})
}
