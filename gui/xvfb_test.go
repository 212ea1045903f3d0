//go:build xvfb

// The real-window test: the GUI in Fyne's GLFW driver, on an X server of its
// own. Run it with `make gui-test`, which starts it under xvfb-run; it needs
// xdotool and ImageMagick's import (scripts/setup.sh installs them).

package gui

import (
	"bytes"
	"fmt"
	"image/png"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/app"

	"github.com/tandem-softphone/tandem/continuity"
	"github.com/tandem-softphone/tandem/core"
	"github.com/tandem-softphone/tandem/wire"
)

// realApp is the application of the GLFW driver, which owns the main thread.
var realApp fyne.App

// TestMain gives the main thread to the GLFW driver, as it requires, and
// runs the tests beside it.
func TestMain(m *testing.M) {
	if os.Getenv("DISPLAY") == "" {
		fmt.Fprintln(os.Stderr, "the real-window test needs an X display: run it under xvfb-run (make gui-test)")
		os.Exit(2)
	}
	// The preferences go to a directory of the test's own, not the user's,
	// emptied first so that each run starts from the defaults.
	cfg := filepath.Join(os.TempDir(), "tandem-xvfb-config")
	runtime := filepath.Join(os.TempDir(), "tandem-xvfb-runtime")
	for _, d := range []string{cfg, runtime} {
		if err := os.RemoveAll(d); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		if err := os.MkdirAll(d, 0o700); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
	}
	os.Setenv("XDG_CONFIG_HOME", cfg)
	os.Setenv("XDG_RUNTIME_DIR", runtime)
	app.SetMetadata(fyne.AppMetadata{ID: AppID, Name: "Tandem", Version: "0.1.0", Migrations: map[string]bool{"fyneDo": true}})
	realApp = app.NewWithID(AppID)
	code := 1
	go func() {
		defer realApp.Quit()
		code = m.Run()
	}()
	realApp.Run()
	os.Exit(code)
}

// screenshotDir is where the screenshots go: $TANDEM_SCREENSHOTS, or
// tandem-screenshots in the temporary directory.
func screenshotDir(t *testing.T) string {
	dir := os.Getenv("TANDEM_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "tandem-screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// eventually polls cond every 100 ms for up to 10 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %q: %v\n%s", name, args, err, out)
	}
	return string(out)
}

// windowOrigin is the window's top-left corner on the screen.
func windowOrigin(t *testing.T) (x, y int) {
	var out []byte
	eventually(t, "the Tandem window to be mapped", func() bool {
		var err error
		out, err = exec.Command("xdotool", "search", "--onlyvisible", "--name", "^Tandem$", "getwindowgeometry").CombinedOutput()
		return err == nil && bytes.Contains(out, []byte("Position:"))
	})
	m := regexp.MustCompile(`Position: (-?\d+),(-?\d+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no position in %q", out)
	}
	x, _ = strconv.Atoi(string(m[1]))
	y, _ = strconv.Atoi(string(m[2]))
	return x, y
}

// click clicks the middle of a widget with the X server's mouse.
func click(t *testing.T, u *UI, o fyne.CanvasObject) {
	t.Helper()
	wx, wy := windowOrigin(t)
	var pos fyne.Position
	var size fyne.Size
	var scale float32
	fyne.DoAndWait(func() {
		pos = realApp.Driver().AbsolutePositionForObject(o)
		size = o.Size()
		scale = u.win.Canvas().Scale()
	})
	x := wx + int((pos.X+size.Width/2)*scale)
	y := wy + int((pos.Y+size.Height/2)*scale)
	run(t, "xdotool", "mousemove", "--sync", strconv.Itoa(x), strconv.Itoa(y), "click", "1")
}

// shows waits until the UI shows what cond checks (read on the UI
// goroutine), then for the frame that draws it: the driver repaints a
// changed window at its next 60 Hz tick, and ten round trips through its
// loop leave that a wide margin.
func shows(t *testing.T, what string, cond func() bool) {
	t.Helper()
	eventually(t, what, func() bool {
		var ok bool
		fyne.DoAndWait(func() { ok = cond() })
		return ok
	})
	for range 10 {
		fyne.DoAndWait(func() {})
		time.Sleep(20 * time.Millisecond)
	}
}

// screenshot saves the whole screen and checks that it shows a drawn window:
// many colours (anti-aliased text, lamps, banners), not a blank or black
// screen. It retries while the first frames are being drawn.
func screenshot(t *testing.T, name string) string {
	t.Helper()
	path := filepath.Join(screenshotDir(t), name)
	var why string
	eventually(t, "a drawn window on the screen ("+name+")", func() bool {
		run(t, "import", "-window", "root", path)
		why = nonTrivial(path)
		return why == ""
	})
	t.Logf("screenshot %s", path)
	return path
}

// nonTrivial tells why a screenshot is not a drawn window, or "".
func nonTrivial(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		return err.Error()
	}
	colours := map[[3]uint32]bool{}
	light := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			colours[[3]uint32{r >> 8, g >> 8, bl >> 8}] = true
			if r>>8 > 0xe0 && g>>8 > 0xe0 && bl>>8 > 0xe0 {
				light++
			}
		}
	}
	switch {
	case b.Dx() < 1000 || b.Dy() < 700:
		return fmt.Sprintf("screen is %v", b)
	case len(colours) < 200:
		return fmt.Sprintf("only %d colours", len(colours))
	case light < b.Dx()*b.Dy()/3:
		// The light theme's window covers most of the screen.
		return fmt.Sprintf("only %d light pixels: no window drawn", light)
	}
	return ""
}

func TestRealWindow(t *testing.T) {
	st := sampleCountdown()
	st.Agent.State, st.Agent.Reason = wire.StateNotReady, "Break"
	f := newFake(st)
	realApp.Preferences().SetString(prefTheme, themeLight)
	var u *UI
	fyne.DoAndWait(func() {
		u = New(realApp, dialingBackend{f}, Options{Logger: slog.New(slog.DiscardHandler)})
		u.Start()
		u.win.Show()
	})
	defer fyne.DoAndWait(func() {
		u.Stop()
		u.win.Hide()
	})

	// The countdown runs in real time on this window's clock.
	st.Countdowns = []core.Countdown{{What: "switchover", At: time.Now().Add(23 * time.Second)}}
	f.set(st)
	shows(t, "the countdown", func() bool {
		return strings.Contains(u.main.banner.title.Text, "switching to Site\u00a02\u00a0·\u00a0Lyon in")
	})
	screenshot(t, "main_countdown.png")

	// The agent's clicks and keys reach the backend as intents.
	click(t, u, u.main.agent.ready)
	eventually(t, "the Ready intent", func() bool { return len(f.Calls()) == 1 && f.Calls()[0] == "Ready" })
	click(t, u, u.main.dial.number)
	run(t, "xdotool", "type", "--delay", "50", "5551234")
	eventually(t, "the number typed", func() bool {
		var text string
		fyne.DoAndWait(func() { text = u.main.dial.number.Text })
		return text == "5551234"
	})
	click(t, u, u.main.dial.call)
	eventually(t, "the Dial intent", func() bool { c := f.Calls(); return len(c) == 2 && c[1] == "Dial(5551234)" })

	// BC-30: a call an earlier run left connected is offered; Restore, by
	// the mouse, goes to the backend and the offer goes.
	saved := st
	saved.Countdowns = nil
	saved.SavedCalls = sampleSaved().SavedCalls
	f.set(saved)
	shows(t, "the saved call's offer", func() bool { return u.main.saved.banner.box.Visible() && !u.main.saved.restore.Disabled() })
	screenshot(t, "main_saved_calls.png")
	click(t, u, u.main.saved.restore)
	eventually(t, "the RestoreSavedCalls intent", func() bool { c := f.Calls(); return len(c) == 3 && c[2] == "RestoreSavedCalls" })
	shows(t, "the offer gone", func() bool { return !u.main.saved.banner.box.Visible() })

	// A switchover under way (BC-20): the banner's spinner turns.
	sw := st
	sw.Countdowns = nil
	sw.Phase, sw.Site = continuity.SwitchingOver, 2
	sw.Sites[0].Telephony, sw.Sites[0].Configuration, sw.Sites[0].Statistic = core.ServiceNone, core.ServiceNone, core.ServiceNone
	started := time.Now().Add(-time.Second)
	sw.Timelines = append(sw.Timelines, continuity.Timeline{Kind: "switchover", Trigger: "telephony service lost for 30 s", From: 1, To: 2, Started: started,
		Steps: []continuity.Step{{At: started.Add(200 * time.Millisecond), Name: "authenticated"}, {At: started.Add(500 * time.Millisecond), Name: "register DN 7002"}}})
	f.set(sw)
	shows(t, "the switchover", func() bool { return u.main.banner.title.Text == "Switching to Site\u00a02\u00a0·\u00a0Lyon…" })
	screenshot(t, "main_switching.png")

	// A supervisor's logout brings the login view back, with the reason.
	out := st
	out.Phase, out.Countdowns = continuity.LoggedOut, nil
	out.Agent.State, out.Agent.Reason = wire.StateLoggedOut, "end of shift"
	f.set(out)
	shows(t, "the login view", func() bool { return u.win.Content() == u.login.content })
	screenshot(t, "login_supervisor_logout.png")

	var size fyne.Size
	fyne.DoAndWait(func() { size = u.win.Canvas().Size() })
	if size.Width < 900 || size.Height < 600 {
		t.Errorf("window of %v: too small for the main view", size)
	}
}
