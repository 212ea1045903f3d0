package sipua

import (
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tandem-softphone/tandem/media/g711"
	"github.com/tandem-softphone/tandem/media/sdp"
)

// sippPcapDir is where the sip-tester package keeps g711a.pcap and the
// RFC 2833 DTMF pcaps.
func sippPcapDir(t *testing.T) string {
	t.Helper()
	if out, err := exec.Command("dpkg", "-L", "sip-tester").Output(); err == nil {
		for line := range strings.Lines(string(out)) {
			if line = strings.TrimSpace(line); strings.HasSuffix(line, "/g711a.pcap") {
				return filepath.Dir(line)
			}
		}
	}
	if _, err := os.Stat("/usr/share/sip-tester/g711a.pcap"); err == nil {
		return "/usr/share/sip-tester"
	}
	t.Fatal("sip-tester's g711a.pcap not found")
	return ""
}

// sippNeedsRawSockets makes sure SIPp may play pcap files, which it sends
// through a raw socket: as root, or with the cap_net_raw file capability.
// Otherwise the test is skipped, or fails in CI.
func sippNeedsRawSockets(t *testing.T, bin string) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if n, err := syscall.Getxattr(bin, "security.capability", make([]byte, 64)); err == nil && n > 0 {
		return
	}
	const why = "SIPp plays pcap audio through a raw socket: run the tests as root or `setcap cap_net_raw+ep %s`"
	if os.Getenv("CI") == "" {
		t.Skipf(why, bin)
	}
	t.Fatalf(why, bin)
}

// sippMediaPorts finds an RTP port for SIPp's echo, which also takes the
// port two above it.
func sippMediaPorts(t *testing.T) int {
	t.Helper()
	for range 20 {
		p := freeUDPPort(t)
		if p%2 == 0 && p+2 < 65536 && udpFree(p+1) && udpFree(p+2) {
			return p
		}
	}
	t.Fatal("no free UDP ports for SIPp's media")
	return 0
}

// SIPp (-sn uas) answers our call with G.711 and echoes our RTP: what we
// hear back is what we said.
func TestSippAnswersWithEcho(t *testing.T) {
	bin := peerBinary(t, "sipp", "sip-tester")
	t.Parallel()
	s := startSite(t, "site1.test", nil)
	a := newPhone(t, s, "1001", phoneOptions{said: chirp(300, 3000, time.Second)})
	var port, media int
	sipp := startListeningPeer(t, "sipp-uas", bin, t.TempDir(), func() ([]string, int) {
		port, media = freeUDPPort(t), sippMediaPorts(t)
		return []string{"-sn", "uas", "-i", "127.0.0.1", "-p", fmt.Sprint(port), "-mp", fmt.Sprint(media),
			"-rtp_echo", "-m", "1", "-nostdin", "-timeout", "30", "-timeout_error"}, port
	})

	c := a.dial(fmt.Sprintf("sip:service@127.0.0.1:%d", port))
	info := waitCallState(t, c, CallConnected)
	if !strings.HasPrefix(info.Media.Codec, "PCMU") || info.Media.Remote.Port() != uint16(media) {
		t.Errorf("media with SIPp: %s to %v", info.Media.Codec, info.Media.Remote)
	}
	time.Sleep(1600 * time.Millisecond)
	if err := c.Hangup(); err != nil {
		t.Fatal(err)
	}
	waitEnded(t, c, EndLocalHangup)
	if code := sipp.wait(t, 10*time.Second); code != 0 {
		t.Errorf("SIPp exit code %d", code)
	}
	// The echo crosses the loopback twice, so a loaded machine's late
	// device periods hit it twice; other audio stays below 0.5 (see
	// TestCorrelationMeasure).
	if r := correlation(a.said, a.heard()); r < 0.6 {
		t.Errorf("the echo of our audio: correlation %.2f", r)
	}
}

// SIPp calls us with a scenario: G.711 A-law audio from the package's
// pcap, an RFC 2833 digit from its DTMF pcap, a re-INVITE that holds us,
// and BYE. We hear the pcap's audio, get the digit and see the hold.
func TestSippCallsWithAudioDTMFAndHold(t *testing.T) {
	bin := peerBinary(t, "sipp", "sip-tester")
	sippNeedsRawSockets(t, bin)
	pcaps := sippPcapDir(t)
	scenario, err := os.ReadFile("testdata/sipp/uac_audio_dtmf_hold.xml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	sf := filepath.Join(dir, "uac.xml")
	if err := os.WriteFile(sf, []byte(strings.ReplaceAll(string(scenario), "PCAPDIR", pcaps)), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Parallel()
	s := startSite(t, "site1.test", nil)
	b := newPhone(t, s, "2001", phoneOptions{said: chirp(300, 3000, time.Second)})
	sipp := startListeningPeer(t, "sipp-uac", bin, dir, func() ([]string, int) {
		port := freeUDPPort(t)
		return []string{b.ep.Addr(TransportUDP).String(), "-sf", sf, "-s", "2001", "-i", "127.0.0.1",
			"-p", fmt.Sprint(port), "-mp", fmt.Sprint(sippMediaPorts(t)),
			"-m", "1", "-nostdin", "-timeout", "30", "-timeout_error"}, port
	})

	c := b.incoming()
	if i := c.Info(); i.PeerName != "SIPp" {
		t.Errorf("caller display name %q", i.PeerName)
	}
	if err := c.Answer(); err != nil {
		t.Fatal(err)
	}
	if i := waitCallState(t, c, CallConnected); !strings.HasPrefix(i.Media.Codec, "PCMA") {
		t.Errorf("codec %s, want PCMA as offered", i.Media.Codec)
	}
	eventually(t, "the DTMF digit", func() bool { return b.digits() == "1" })
	i := waitCall(t, c, "held by SIPp", func(i CallInfo) bool { return i.RemoteHold })
	if i.State != CallHeld || i.Media.Direction != sdp.RecvOnly {
		t.Errorf("held: %v %v", i.State, i.Media.Direction)
	}
	waitEnded(t, c, EndRemoteHangup)
	if code := sipp.wait(t, 10*time.Second); code != 0 {
		t.Errorf("SIPp exit code %d", code)
	}
	pcm := pcapAlaw(t, filepath.Join(pcaps, "g711a.pcap"))
	if r := correlation(pcm[:2*callSampleRate], b.heard()); r < 0.8 {
		t.Errorf("the pcap's audio: correlation %.2f", r)
	}
}

// pcapAlaw decodes the A-law RTP payloads of a pcap file (Ethernet, IPv4,
// UDP), in order.
func pcapAlaw(t *testing.T, name string) []int16 {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) < 24 || binary.LittleEndian.Uint32(data) != 0xa1b2c3d4 {
		t.Fatalf("%s: not a little-endian pcap", name)
	}
	var pcm []int16
	for off := 24; off+16 <= len(data); {
		n := int(binary.LittleEndian.Uint32(data[off+8:]))
		off += 16
		if off+n > len(data) {
			break
		}
		pkt := data[off : off+n]
		off += n
		if len(pkt) < 14+20 {
			continue
		}
		ip := pkt[14:]
		udp := ip[int(ip[0]&0x0f)*4:]
		if len(udp) < 8+12 {
			continue
		}
		rtp := udp[8:]
		if rtp[1]&0x7f != 8 {
			continue
		}
		pcm = g711.DecodeAlaw(rtp[12+int(rtp[0]&0x0f)*4:], pcm)
	}
	return pcm
}
