//go:build tools

// Package weir pins module dependencies chosen for the project that no package imports yet
// (porcupine arrives with core/check); an entry goes once a package imports it.
package weir

import (
	_ "github.com/anishathalye/porcupine"
)
