package purity

import (
	"fmt"
	"strings"
)

// Rule names one purity rule. Findings carry it, fixtures name their directory after it.
type Rule string

const (
	// RuleImport: an import outside the allowed list (os, net, sync, runtime, log, unsafe, ...).
	RuleImport Rule = "forbidden-import"
	// RuleLayer: a core package importing one at its own level or above (record ← log ← ... ← broker).
	RuleLayer Rule = "layer-order"
	// RuleCall: a use of a function that reads a clock, sleeps, prints, or draws from a global
	// random source.
	RuleCall Rule = "forbidden-call"
	// RuleGo: a go statement.
	RuleGo Rule = "go-statement"
	// RuleChannel: a channel type, a send or a receive.
	RuleChannel Rule = "channel"
	// RuleSelect: a select statement.
	RuleSelect Rule = "select"
	// RuleMapRange: iteration in map order (range over a map, maps.Keys/Values/All not sorted),
	// or a malformed or unused //purity:allow-map-range escape hatch.
	RuleMapRange Rule = "map-range"
	// RuleTypeCheck: the package does not type-check, so the type-based rules cannot vouch for it.
	RuleTypeCheck Rule = "type-check"
)

// ModulePath is Weir's module path.
const ModulePath = "github.com/weirdata/weir"

// corePrefix is the import path prefix of the pure core.
const corePrefix = ModulePath + "/core"

// allowMapRangeDirective marks a range over a map whose order provably does not matter. It must
// be followed by a reason and sit on the for line or the line just above it.
const allowMapRangeDirective = "//purity:allow-map-range"

// stdAllowed lists the standard library packages core/ may import: those that do no I/O, read no
// clock or environment and start no goroutines (or, for fmt, time and math/rand, whose impure
// functions forbiddenFuncs catches). Adding one needs a reason in the commit.
var stdAllowed = map[string]bool{
	"bufio": true, "bytes": true, "cmp": true, "errors": true, "fmt": true, "io": true,
	"io/fs": true, "iter": true, "maps": true, "path": true, "regexp": true, "slices": true,
	"sort": true, "strconv": true, "strings": true, "time": true,
	"unicode": true, "unicode/utf8": true, "unicode/utf16": true,
	"compress/flate": true, "compress/gzip": true, "compress/zlib": true,
	"container/heap": true, "container/list": true, "container/ring": true,
	"crypto/md5": true, "crypto/sha1": true, "crypto/sha256": true, "crypto/sha512": true,
	"encoding": true, "encoding/base32": true, "encoding/base64": true, "encoding/binary": true,
	"encoding/hex": true, "encoding/json": true,
	"hash": true, "hash/adler32": true, "hash/crc32": true, "hash/crc64": true, "hash/fnv": true,
	"math": true, "math/big": true, "math/bits": true, "math/rand": true, "math/rand/v2": true,
}

// modulesAllowed lists third-party module paths core/ may import, with their subpackages.
var modulesAllowed = []string{
	"github.com/twmb/franz-go/pkg/kmsg",
	"github.com/klauspost/compress",
	"github.com/pierrec/lz4/v4",
}

// porcupinePath may be imported by core/check (and its subpackages) only.
const porcupinePath = "github.com/anishathalye/porcupine"

// diskioPath is the one package outside core/ that core/ may import: the FS interfaces, not
// their implementations (osfs, memfs, errorfs).
const diskioPath = ModulePath + "/diskio"

// importAllowed reports whether a package at pkgPath (inside core/) may import imp, and if not,
// why.
func importAllowed(pkgPath, imp string) (bool, string) {
	switch {
	case stdAllowed[imp]:
		return true, ""
	case imp == diskioPath:
		return true, ""
	case underPath(imp, corePrefix):
		return true, "" // the layer order is checked separately
	case underPath(imp, porcupinePath):
		if underPath(pkgPath, corePrefix+"/check") {
			return true, ""
		}
		return false, "porcupine is for core/check only"
	case underPath(imp, ModulePath):
		return false, "core/ may import only core/... and " + diskioPath + " from this module"
	}
	for _, m := range modulesAllowed {
		if underPath(imp, m) {
			return true, ""
		}
	}
	if !strings.Contains(strings.SplitN(imp, "/", 2)[0], ".") {
		return false, "not one of the standard library's pure packages"
	}
	return false, "not an allowed dependency of core/"
}

// underPath reports whether path is prefix or a package below it.
func underPath(path, prefix string) bool {
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}

// timeForbidden are package-level functions of time that read the clock, wait, or read the
// machine's time zone database.
var timeForbidden = map[string]bool{
	"Now": true, "Since": true, "Until": true, "Sleep": true, "After": true, "AfterFunc": true,
	"NewTimer": true, "NewTicker": true, "Tick": true, "LoadLocation": true,
}

// fmtForbidden are fmt's printing functions: core never writes to a stream.
var fmtForbidden = map[string]bool{
	"Print": true, "Printf": true, "Println": true, "Fprint": true, "Fprintf": true, "Fprintln": true,
}

// forbiddenFunc reports why a package-level function or variable pkgPath.name may not be used
// in core/, or "" if it may.
func forbiddenFunc(pkgPath, name string) string {
	switch pkgPath {
	case "time":
		if timeForbidden[name] {
			return "reads the clock or waits: take the time as an input (the driver's Clocks)"
		}
	case "fmt":
		if fmtForbidden[name] {
			return "prints: core returns values and errors, the driver logs"
		}
	case "math/rand", "math/rand/v2":
		// Constructors (New, NewSource, NewPCG, NewChaCha8, NewZipf) build a seeded source;
		// every other package-level function draws from the global, unseeded one.
		if !strings.HasPrefix(name, "New") {
			return "draws from the global random source: use the node's seeded *rand.Rand"
		}
	}
	return ""
}

// mapOrderFuncs are functions that yield a map's entries in map order.
var mapOrderFuncs = map[string]bool{"Keys": true, "Values": true, "All": true}

// sortingFuncs are the slices functions that make an iterator's order irrelevant.
var sortingFuncs = map[string]bool{"Sorted": true, "SortedFunc": true, "SortedStableFunc": true}

// coreLayers is the import order inside core/: a package may import only packages of a lower
// level (DESIGN.md §1: record ← log ← replica ← broker). Subpackages share their top package's
// level. A new core package must be added here before it can be imported or checked.
var coreLayers = map[string]int{
	"record":     0, // record batch v2
	"uuid":       0, // Kafka's Uuid (cluster, directory, topic ids)
	"buggify":    0, // rare-path switches the simulator turns on
	"wire":       1, // Kafka framing and codec over kmsg; batch validation
	"log":        1, // one partition's log over diskio
	"config":     2, // Kafka configs; maps topic configs to log.Config
	"check":      2, // histories and checkers
	"client":     3, // sans-I/O Kafka client over wire; records check histories
	"compact":    2, // the log cleaner
	"storage":    3, // log dirs: meta.properties, checkpoints, format
	"metadata":   3, // the metadata image from metadata records
	"producer":   3, // producer-id state
	"quorum":     2, // Raft for the metadata log; below metadata, whose QuorumLog is its Log on disk
	"controller": 4, // commands → metadata records
	"replica":    4, // one partition replica
	"group":      4, // the group coordinator
	"broker":     5, // the Node
}

// coreComponent returns the top-level core package an import path belongs to ("log" for
// .../core/log/internal/x), or "" if the path is not below core/.
func coreComponent(path string) string {
	if !strings.HasPrefix(path, corePrefix+"/") {
		return ""
	}
	rest := strings.TrimPrefix(path, corePrefix+"/")
	return strings.SplitN(rest, "/", 2)[0]
}

// layerViolation reports why pkgPath may not import imp under the layer order, or "".
func layerViolation(pkgPath, imp string) string {
	from, to := coreComponent(pkgPath), coreComponent(imp)
	if to == "" || from == to {
		return ""
	}
	fromLevel, ok := coreLayers[from]
	if !ok {
		return fmt.Sprintf("core/%s is not in the layer table (internal/purity/rules.go): add it", from)
	}
	toLevel, ok := coreLayers[to]
	if !ok {
		return fmt.Sprintf("core/%s is not in the layer table (internal/purity/rules.go): add it", to)
	}
	if toLevel >= fromLevel {
		return fmt.Sprintf("core/%s (level %d) may import only lower levels, not core/%s (level %d)", from, fromLevel, to, toLevel)
	}
	return ""
}
