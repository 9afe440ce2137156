// Package purity checks that core/ stays pure, as DESIGN.md §2 defines it: the same inputs
// give the same outputs on any machine, every time. It parses and type-checks Go packages
// (go/parser and go/types, with dependencies imported from the export data `go list -export`
// writes) and reports each construct that breaks a rule: a forbidden import, an import against
// the layer order of core/, a call that reads a clock, prints or uses a global random source,
// a go statement, a channel, a select, or a range over a map whose order could matter.
//
// The package lives outside core/ because checking needs os, os/exec and go/importer. The test
// that runs it over core/ is core/purity_test.go; the fixtures proving each rule bites are in
// testdata/purity/.
package purity
