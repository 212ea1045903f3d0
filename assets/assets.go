// Package assets holds Tandem's icons, embedded in the binary. The SVG
// sources sit beside them; icon.svg says how icon.png is rendered.
package assets

import (
	_ "embed"

	"fyne.io/fyne/v2"
)

var (
	//go:embed icon.png
	iconPNG []byte
	//go:embed call.svg
	callSVG []byte
)

// Icon is the application icon (512×512).
var Icon = fyne.NewStaticResource("tandem.png", iconPNG)

// Call is a telephone handset, to be themed (theme.NewThemedResource).
var Call = fyne.NewStaticResource("call.svg", callSVG)
