//go:build tools

// Package weir pins module dependencies chosen for the project that no package imports yet
// (porcupine arrives with core/check; kfake, the peer broker in benchmarks and CLI tests); an entry goes once a package imports it.
package weir

import (
	_ "github.com/anishathalye/porcupine"
	_ "github.com/twmb/franz-go/pkg/kfake"
)
