// Package core_test holds the test that keeps core/ pure (DESIGN.md §2). The rules, their
// reasons and the layer order are in internal/purity; the fixtures proving each rule fires are
// in testdata/purity.
package core_test

import (
	"io/fs"
	"path/filepath"
	"testing"

	"github.com/weirdata/weir/internal/purity"
)

// TestPurity type-checks every non-test Go file of core/ and fails on each forbidden import,
// import against the layer order, clock/print/global-random call, go statement, channel, select
// and map range whose order could matter.
func TestPurity(t *testing.T) {
	// go test caches a pass by the files the test opened. The checker lists packages in a
	// `go list` subprocess, which the cache does not see, so open every directory here: adding
	// or removing a file then invalidates the cached result (file contents are read in-process).
	if err := filepath.WalkDir(".", func(string, fs.DirEntry, error) error { return nil }); err != nil {
		t.Fatal(err)
	}
	findings, err := purity.CheckPatterns(".", "./...")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range findings {
		t.Errorf("core/%s", f)
	}
	if len(findings) > 0 {
		t.Logf("%d purity findings; the rules are in internal/purity/rules.go, an order-free map range takes //purity:allow-map-range <reason>", len(findings))
	}
}
