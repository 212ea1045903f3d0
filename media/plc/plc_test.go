package plc

import (
	"slices"
	"testing"
)

func constant(n int, v int16) []int16 {
	f := make([]int16, n)
	for i := range f {
		f[i] = v
	}
	return f
}

func TestSilenceBeforeAnyGoodFrame(t *testing.T) {
	var c Concealer
	dst := constant(160, 99)
	c.Conceal(dst)
	if slices.ContainsFunc(dst, func(s int16) bool { return s != 0 }) {
		t.Errorf("concealment before any audio = %v, want silence", dst[:8])
	}
}

// With the default 3 frames, the gain falls 1 -> 2/3 -> 1/3 -> 0 across
// the concealed frames, then stays silent.
func TestFadesToSilence(t *testing.T) {
	var c Concealer
	c.Good(constant(160, 900))
	ends := [][2]int16{{900, 601}, {600, 301}, {300, 1}, {0, 0}, {0, 0}}
	for k, want := range ends {
		dst := make([]int16, 160)
		c.Conceal(dst)
		if dst[0] != want[0] || dst[159] != want[1] {
			t.Errorf("concealed frame %d runs %d..%d, want %d..%d", k+1, dst[0], dst[159], want[0], want[1])
		}
		for i := 1; i < len(dst); i++ {
			if dst[i] > dst[i-1] {
				t.Fatalf("concealed frame %d rises at sample %d: %d after %d", k+1, i, dst[i], dst[i-1])
			}
		}
	}
}

func TestRepeatsTheLastFrame(t *testing.T) {
	c := Concealer{FadeFrames: 1000} // barely fading: the waveform shows
	c.Good([]int16{1000, -1000, 500, -500})
	dst := make([]int16, 10)
	c.Conceal(dst)
	want := []int16{1000, -1000, 500, -500, 1000, -1000, 500, -500, 1000, -1000}
	for i := range dst {
		if d := int(dst[i]) - int(want[i]); d > 1 || d < -1 {
			t.Fatalf("concealed %v, want about %v", dst, want)
		}
	}
	// The next frame continues the repetition where this one stopped.
	c.Conceal(dst[:2])
	if dst[0] < 490 || dst[1] > -490 {
		t.Errorf("next concealed frame starts %v, want about [500 -500] continuing", dst[:2])
	}
}

func TestGoodCopiesTheFrame(t *testing.T) {
	c := Concealer{FadeFrames: 1000}
	frame := constant(4, 1000)
	c.Good(frame)
	frame[0] = -7 // the caller reuses its buffer
	dst := make([]int16, 4)
	c.Conceal(dst)
	if dst[0] != 1000 {
		t.Errorf("concealment starts %d: the concealer kept the caller's buffer, not a copy", dst[0])
	}
}

// The first good frame after a gap rises from where the concealment
// stopped; the ones after it play untouched.
func TestResumesWithoutJump(t *testing.T) {
	var c Concealer
	c.Good(constant(160, 900))
	c.Conceal(make([]int16, 160)) // ends at 2/3
	next := constant(160, 900)
	c.Good(next)
	if next[0] != 600 || next[159] != 898 {
		t.Errorf("first frame after the gap runs %d..%d, want 600..898", next[0], next[159])
	}
	after := constant(160, 900)
	c.Good(after)
	if slices.ContainsFunc(after, func(s int16) bool { return s != 900 }) {
		t.Error("a frame after a good one was changed")
	}

	// After a long gap the audio comes back from silence.
	for range 5 {
		c.Conceal(make([]int16, 160))
	}
	back := constant(160, 900)
	c.Good(back)
	if back[0] != 0 || back[80] != 450 {
		t.Errorf("frame after a long gap starts %d, mid %d; want 0, 450", back[0], back[80])
	}
}
