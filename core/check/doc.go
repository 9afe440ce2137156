// Package check holds the history format every client records (simulated clients in sim/,
// real ones in chaos/) and the checkers that hold a run to DESIGN §8's contract.
//
//   - history.go: Op, Record and History: each operation's invocation, completion and outcome.
package check
