package sim

import (
	"os"
	"runtime/debug"
	"testing"
)

// TestMain runs the package's tests with the GC target `weir sim` uses (cmd/weir's
// simGCPercent) unless GOGC says otherwise: the seeds are most of CI's time.
func TestMain(m *testing.M) {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	os.Exit(m.Run())
}
