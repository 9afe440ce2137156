// Package controller is Weir's controller: the logic of the active controller, which turns
// admin and broker-lifecycle commands into metadata records plus a response (DESIGN.md §6).
//
// The active controller is the metadata quorum's leader. It decides on the latest image (the
// committed image with its own uncommitted records applied) and answers a command only after
// its records commit; every other node, a standby controller or a restarted one included,
// learns state only by replaying records. Nothing here touches the quorum: the caller appends
// a Result's records as one atomic proposal and sends its Response once they are committed.
//
// Files:
//   - controller.go: the Controller, its Config and Result
//   - node.go: Node, one process's part in the metadata quorum (a voter or an observer) with
//     its committed image, and on the quorum leader the active controller; node_ready.go: its
//     effects; node_conn.go: the controller listener's requests, answered in order;
//     node_quorum.go: quorum RPCs to and from Kafka's wire messages; node_apply.go: replaying
//     committed records; node_snapshot.go: snapshots of the committed image; node_active.go:
//     the active controller (latest image, commands answered once committed);
//     node_commands.go: the listener's version table and command dispatch; node_errors.go:
//     a command's error answer
//   - lifecycle.go: BrokerRegistration, BrokerHeartbeat and UnregisterBroker (KIP-631):
//     registration, unfencing, controlled shutdown, decommissioning
//   - heartbeats.go: broker leases (Activate, Deactivate, Tick fences lapsed brokers and runs
//     the leader balance)
//   - partition_change.go: leader election and ISR changes when a broker comes or goes;
//     partition_builder.go: Kafka's PartitionChangeBuilder, which every partition change
//     goes through (elections, reassignment completion, leader recovery state)
//   - alter_partition.go: AlterPartition, a leader's ISR changes (KIP-497, KIP-903)
//   - elect_leaders.go: ElectLeaders, preferred and unclean (KIP-460)
//   - reassignments.go: AlterPartitionReassignments and ListPartitionReassignments (KIP-455)
//   - leader_balance.go: automatic preferred leader elections (auto.leader.rebalance.enable)
//   - producer_ids.go: AllocateProducerIds
//   - lifecycle_errors.go: the Kafka error codes of the above
//   - topics.go: CreateTopics (and the request auto-creation sends); topics_delete.go:
//     DeleteTopics; topics_errors.go: the Kafka error codes answered
//   - partitions.go: CreatePartitions
//   - placement.go: where new partitions' replicas go (Kafka's striped placer)
//   - configs.go: IncrementalAlterConfigs and AlterConfigs, TOPIC and BROKER resources
//   - configs_describe.go: a topic's effective config (static and dynamic broker defaults) and
//     its description with sources, for CreateTopics and the broker's DescribeConfigs
//
// The package is pure (DESIGN.md §2): no clock (times are passed in), randomness only from the
// caller's PRNG.
package controller
