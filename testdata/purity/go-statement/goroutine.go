// Package goroutine starts goroutines.
package goroutine

func work() {}

// Spawn runs work concurrently.
func Spawn() {
	go work()   // want go-statement
	go func() { // want go-statement
		work()
	}()
}
