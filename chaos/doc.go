// Package chaos will hold the real-process fault harness (DESIGN.md §1, §9): `weir broker`
// processes on loopback, real Kafka clients, kill -9, SIGSTOP and cut links, recording
// histories in core/check's format and judging them with the simulator's checkers. Nothing is
// here yet.
package chaos
