//go:build race

package gui

const raceEnabled = true
