package gui

import (
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"
)

// Theme choices of the settings.
const (
	themeSystem = "system"
	themeLight  = "light"
	themeDark   = "dark"
)

// tandemTheme is Fyne's default theme, held to one variant when the agent
// chose one, with darker status colours: Fyne's bright green, orange and red
// carry white text (and, in the light variant, lamps on white) at a contrast
// too low to read (about 1.6:1 for the green); these reach 4.5:1 for the
// text in both variants and stay above 3:1 as lamps on the dark background.
type tandemTheme struct {
	fyne.Theme
	forced  bool
	variant fyne.ThemeVariant
}

var statusColors = map[fyne.ThemeColorName]color.Color{
	theme.ColorNameSuccess: color.NRGBA{R: 0x1b, G: 0x7f, B: 0x3b, A: 0xff},
	theme.ColorNameWarning: color.NRGBA{R: 0xb4, G: 0x53, B: 0x09, A: 0xff},
	theme.ColorNameError:   color.NRGBA{R: 0xc6, G: 0x28, B: 0x28, A: 0xff},
}

func (t tandemTheme) Color(n fyne.ThemeColorName, v fyne.ThemeVariant) color.Color {
	if t.forced {
		v = t.variant
	}
	if c, ok := statusColors[n]; ok {
		return c
	}
	return t.Theme.Color(n, v)
}

// applyTheme sets the theme of a settings choice, unless it is already
// set: a theme change re-measures every text.
func applyTheme(a fyne.App, choice string) {
	want := themeFor(choice)
	if cur, ok := a.Settings().Theme().(tandemTheme); ok && cur.forced == want.forced && cur.variant == want.variant {
		return
	}
	a.Settings().SetTheme(want)
}

// themeFor is the theme of a settings choice; themeSystem follows the
// desktop's light or dark preference.
func themeFor(choice string) tandemTheme {
	t := tandemTheme{Theme: theme.DefaultTheme()}
	switch choice {
	case themeLight:
		t.forced, t.variant = true, theme.VariantLight
	case themeDark:
		t.forced, t.variant = true, theme.VariantDark
	}
	return t
}
