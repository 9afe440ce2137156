// Package replica is the leader's bookkeeping for one partition replicated by ISR (DESIGN §5):
// what each follower has durably, who is in sync, the high watermark, and the ISR changes to
// propose to the controller, as Kafka's Partition and Replica classes keep them with the
// fixes of KIP-101, KIP-279, KIP-320, KIP-497, KIP-841 and KIP-903.
//
//   - leader.go: Leader, built when a broker becomes leader of a partition at a leader epoch.
//     Followers report their fetches (FollowerFetched): a follower's fetch offset is what it has
//     durably (followers sync before fetching on) and, once the fetch passed the leader's
//     divergence check, a prefix of the leader's log. The high watermark is the minimum of
//     those offsets and the leader's own durable offset over the maximal ISR (the committed
//     ISR plus a pending expansion), and it moves only once it reaches the leader's epoch
//     start offset, so a new leader never shows a high watermark below one an earlier leader
//     showed. ISRChange proposes the next AlterPartition: followers not caught up for
//     replica.lag.time.max.ms leave, followers caught up to the high watermark and the epoch
//     start join if the controller would accept them. Fetches also carry each follower's log
//     start, from which LowWatermark gives what DeleteRecords waits for.
//   - divergence.go: the follower's side of a diverging fetch: where to truncate.
//
// The package is pure (DESIGN §2): clocks come in as arguments, and nothing ranges over a map.
package replica
