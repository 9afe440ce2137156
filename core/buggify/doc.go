// Package buggify marks rare but legal paths in core so the simulator exercises them often
// (FoundationDB's BUGGIFY). Core code asks `b.Fire("site")` where it could take a rarer
// legal branch: roll a segment early, answer a long poll early, skip an optional snapshot.
// A nil *B never fires, which is production: only the simulator builds one, from the run's
// seed, so every firing replays.
//
//   - buggify.go: B, its per-run site enablement and per-use firing, and the counts the run
//     summary prints.
//   - plant.go: the deliberate bugs (Bug) a B can plant, for tests proving the simulator
//     catches each; never planted outside those tests.
//
// The sites, by name (each is a legal behaviour; a site that could break a guarantee does not
// belong here):
//
//	log/roll-early              roll the active segment before an append that would fit
//	log/index-every-batch       an offset and time index entry at every batch
//	log/read-short              a read plan of at most one batch
//	log/recover-from-start      recover every segment, ignoring the recovery point
//	log/evict-segments          close every inactive segment's files but the last used
//	broker/fetch-wake-early     answer a parked fetch on a wake-up below its min bytes
//	broker/retention-now        run retention before its check interval
//	broker/checkpoint-now       hand out offset checkpoints before their interval
//	broker/producer-expire-now  run producer expiration before its check interval
//	broker/producer-snapshot-skip skip the producer snapshot at a segment roll
package buggify
