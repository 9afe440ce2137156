// Package calls reads the clock, sleeps, prints and draws from the global random source.
package calls

import (
	"fmt"
	"io"
	oldrand "math/rand"
	"math/rand/v2"
	"time"
)

// Impure does everything a pure function must not.
func Impure(w io.Writer) time.Duration {
	start := time.Now()          // want forbidden-call
	time.Sleep(time.Millisecond) // want forbidden-call
	now := time.Now              // want forbidden-call
	fmt.Println("hello")         // want forbidden-call
	fmt.Fprintf(w, "%d", 1)      // want forbidden-call
	_ = rand.IntN(10)            // want forbidden-call
	_ = oldrand.Intn(10)         // want forbidden-call
	_ = rand.New(rand.NewPCG(1, 2)).IntN(10)
	return now().Sub(start) + time.Since(start) // want forbidden-call
}
