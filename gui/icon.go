package gui

import (
	"bytes"
	"image"
	_ "image/png" // the icon's format
	"sync"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"

	"github.com/tandem-softphone/tandem/assets"
)

// iconImage is the application icon, decoded once for every view that shows
// it rather than once per view. An icon that does not decode (a test checks
// that the embedded one does) shows as nothing.
var iconImage = sync.OnceValue(func() image.Image {
	img, _, err := image.Decode(bytes.NewReader(assets.Icon.Content()))
	if err != nil {
		return image.NewNRGBA(image.Rect(0, 0, 1, 1))
	}
	return img
})

// appIcon is the application icon at a size.
func appIcon(size float32) *canvas.Image {
	img := canvas.NewImageFromImage(iconImage())
	img.FillMode = canvas.ImageFillContain
	img.ScaleMode = canvas.ImageScaleSmooth
	img.SetMinSize(fyne.NewSquareSize(size))
	return img
}
