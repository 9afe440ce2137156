package controller

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/quorum"
	"github.com/weirdata/weir/core/wire"
)

// ControllerVersions is what the controller listener serves: the quorum's RPCs at the
// versions core/quorum reads and writes, ApiVersions, the broker lifecycle RPCs and the
// admin commands brokers forward.
func ControllerVersions() wire.VersionTable {
	t, err := wire.NewInternalVersionTable(
		wire.VersionRange{APIKey: kmsg.Fetch.Int16(), MinVersion: quorum.MinFetchVersion, MaxVersion: quorum.SendFetchVersion},
		wire.VersionRange{APIKey: kmsg.ApiVersions.Int16(), MinVersion: 0, MaxVersion: 4},
		wire.VersionRange{APIKey: kmsg.CreateTopics.Int16(), MinVersion: 2, MaxVersion: 7},
		wire.VersionRange{APIKey: kmsg.DeleteTopics.Int16(), MinVersion: 1, MaxVersion: 6},
		wire.VersionRange{APIKey: kmsg.AlterConfigs.Int16(), MinVersion: 0, MaxVersion: 2},
		wire.VersionRange{APIKey: kmsg.CreatePartitions.Int16(), MinVersion: 0, MaxVersion: 3},
		wire.VersionRange{APIKey: kmsg.IncrementalAlterConfigs.Int16(), MinVersion: 0, MaxVersion: 1},
		wire.VersionRange{APIKey: kmsg.Vote.Int16(), MinVersion: quorum.MinVoteVersion, MaxVersion: quorum.SendVoteVersion},
		wire.VersionRange{APIKey: kmsg.BeginQuorumEpoch.Int16(), MinVersion: quorum.MinBeginQuorumEpochVersion, MaxVersion: quorum.SendBeginQuorumEpochVersion},
		wire.VersionRange{APIKey: kmsg.EndQuorumEpoch.Int16(), MinVersion: quorum.MinEndQuorumEpochVersion, MaxVersion: quorum.SendEndQuorumEpochVersion},
		wire.VersionRange{APIKey: kmsg.DescribeQuorum.Int16(), MinVersion: 0, MaxVersion: 2},
		wire.VersionRange{APIKey: kmsg.FetchSnapshot.Int16(), MinVersion: quorum.MinFetchSnapshotVersion, MaxVersion: quorum.SendFetchSnapshotVersion},
		wire.VersionRange{APIKey: kmsg.BrokerRegistration.Int16(), MinVersion: 0, MaxVersion: 4},
		wire.VersionRange{APIKey: kmsg.BrokerHeartbeat.Int16(), MinVersion: 0, MaxVersion: 1},
		wire.VersionRange{APIKey: kmsg.UnregisterBroker.Int16(), MinVersion: 0, MaxVersion: 0},
		wire.VersionRange{APIKey: kmsg.AllocateProducerIDs.Int16(), MinVersion: 0, MaxVersion: 0},
		wire.VersionRange{APIKey: kmsg.AlterPartition.Int16(), MinVersion: 0, MaxVersion: 3},
		wire.VersionRange{APIKey: kmsg.ElectLeaders.Int16(), MinVersion: 0, MaxVersion: 2},
		wire.VersionRange{APIKey: kmsg.AlterPartitionAssignments.Int16(), MinVersion: 0, MaxVersion: 0},
		wire.VersionRange{APIKey: kmsg.ListPartitionReassignments.Int16(), MinVersion: 0, MaxVersion: 0},
	)
	if err != nil {
		panic(fmt.Sprintf("controller: the controller listener's version table is invalid: %v", err))
	}
	return t
}

// dispatch decides one command on the latest image; false for a request that is not a
// controller command.
func (n *Node) dispatch(req kmsg.Request) (Result, bool) {
	a, now := n.active, n.now.MonotonicMs
	switch r := req.(type) {
	case *kmsg.BrokerRegistrationRequest:
		// The broker epoch is the offset of the registration record: the first of the proposal.
		return n.ctl.RegisterBroker(a.latest, n.log.EndOffset(), now, r), true
	case *kmsg.BrokerHeartbeatRequest:
		// Heartbeat's records (unfencing, leadership moves) start at the log end too.
		return n.ctl.Heartbeat(a.latest, n.log.EndOffset(), now, r), true
	case *kmsg.UnregisterBrokerRequest:
		return n.ctl.UnregisterBroker(a.latest, now, r), true
	case *kmsg.AllocateProducerIDsRequest:
		return n.ctl.AllocateProducerIds(a.latest, now, r), true
	case *kmsg.CreateTopicsRequest:
		return n.ctl.CreateTopics(a.latest, now, r), true
	case *kmsg.CreatePartitionsRequest:
		return n.ctl.CreatePartitions(a.latest, now, r), true
	case *kmsg.DeleteTopicsRequest:
		return n.ctl.DeleteTopics(a.latest, now, r), true
	case *kmsg.IncrementalAlterConfigsRequest:
		return n.ctl.IncrementalAlterConfigs(a.latest, now, r), true
	case *kmsg.AlterConfigsRequest:
		return n.ctl.AlterConfigs(a.latest, now, r), true
	case *kmsg.AlterPartitionRequest:
		return n.ctl.AlterPartition(a.latest, now, r), true
	case *kmsg.ElectLeadersRequest:
		return n.ctl.ElectLeaders(a.latest, now, r), true
	case *kmsg.AlterPartitionAssignmentsRequest:
		return n.ctl.AlterPartitionReassignments(a.latest, now, r), true
	case *kmsg.ListPartitionReassignmentsRequest:
		return n.ctl.ListPartitionReassignments(a.latest, now, r), true
	}
	return Result{}, false
}
