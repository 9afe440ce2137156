// Package imports imports what core/ may not.
package imports

import (
	"log/slog"      // want forbidden-import
	"os"            // want forbidden-import
	"path/filepath" // want forbidden-import
	"sync"          // want forbidden-import
	"unsafe"        // want forbidden-import

	_ "github.com/anishathalye/porcupine"    // want forbidden-import
	_ "github.com/weirdata/weir/diskio/osfs" // want forbidden-import
)

var (
	_ = os.Getenv
	_ sync.Mutex
	_ = unsafe.Sizeof(0)
	_ = slog.Info
	_ = filepath.Join
)
