// Package check holds the history format every client records (simulated clients in sim/,
// real ones in chaos/) and the checkers that hold a run to DESIGN §8's contract.
//
// Check(h, opts) runs every checker and returns a Report: each anomaly class found, by the
// name Jepsen's Kafka workload gives it (lost-write, duplicate, inconsistent-offsets,
// nonmonotonic-send, nonmonotonic-poll, poll-skip, unseen, ...), with a count and a few
// examples. The result depends only on the history and the options, except that porcupine's
// search is bounded by wall-clock time: an undecided partition is a failure, never a pass.
//
//   - history.go: Op, Record and History: each operation's invocation, completion and outcome;
//     Final marks the fetches that read a partition back after the faults stop.
//   - validate.go: History.Validate, the format rules every checker relies on.
//   - encode.go: Encode and Decode, the JSON-lines form (one Op per line) chaos/ records and
//     failing runs are saved in.
//   - report.go: Anomaly (each class's exact definition), Example, Finding and Report.
//   - check.go: Options and Check; the per-partition index the checkers share.
//   - queue.go: the classes read from offsets and values: inconsistent-offsets, duplicate,
//     G1a, unwritten-read, read-above-hw, nonmonotonic-send, nonmonotonic-poll, poll-skip and
//     their within-one-fetch forms.
//   - durability.go: final reads, lost-write, unseen and incomplete-final-read.
//   - linearizable.go: the porcupine model of a partition's produces, not-linearizable with a
//     witness pair, and Visualize (porcupine's HTML, on request only).
//
// Not covered yet: transactions (aborted and precommitted reads, G1c, read_committed reads
// bounded by the last stable offset) and compacted topics (compaction legitimately removes
// records the durability check would call lost).
package check
