// Package channel passes values through channels.
package channel

// Pipe echoes one value.
func Pipe(in chan int) int { // want channel
	out := make(chan int, 1) // want channel
	out <- 1                 // want channel
	return <-in + <-out      // want channel channel
}
