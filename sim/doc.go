// Package sim will hold the simulator (DESIGN.md §8): virtual clocks, an event queue ordered
// by (virtual time, sequence number), seeded PRNGs, a simulated network (delays, resets,
// partitions, swizzle-clogging) and a crashable, faulty disk, driving the very core/ state
// machines production runs, with simulated clients and the core/check checkers. A run is a
// seed plus a commit; `weir sim --seed N` replays it. Nothing is here yet.
package sim
