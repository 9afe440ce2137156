package controller

// ElectLeaders (KIP-183 preferred, KIP-460 unclean), as Kafka's
// ReplicationControlManager.electLeaders decides it.
//
// Per partition: an unknown topic or partition is UNKNOWN_TOPIC_OR_PARTITION. PREFERRED is
// ELECTION_NOT_NEEDED when the first replica already leads; otherwise the partition change
// builder elects the first replica if it is in the ISR and active, else keeps a valid leader,
// else the first valid replica; no change is PREFERRED_LEADER_NOT_AVAILABLE. UNCLEAN is
// ELECTION_NOT_NEEDED when the partition has a leader; otherwise an active ISR member, else
// any active replica (the ISR reset to it, RECOVERING); none is ELIGIBLE_LEADERS_NOT_AVAILABLE.
// Null topics means every partition, answered only where an election was needed. An unknown
// election type is INVALID_REQUEST everywhere.

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/metadata"
)

// Election types of ElectLeaders (Kafka's ElectionType).
const (
	electionTypePreferred int8 = 0
	electionTypeUnclean   int8 = 1
)

// ElectLeaders decides an ElectLeaders request on img, the latest image.
func (c *Controller) ElectLeaders(img *metadata.Image, nowMs int64, req *kmsg.ElectLeadersRequest) Result {
	resp := req.ResponseKind().(*kmsg.ElectLeadersResponse)
	electionType := req.ElectionType
	if req.Version < 1 {
		electionType = electionTypePreferred // v0 elects preferred leaders only
	}
	if electionType != electionTypePreferred && electionType != electionTypeUnclean {
		return Result{Response: electLeadersError(req, errInvalidRequest, fmt.Sprintf("Unknown election type %d", electionType))}
	}
	p := newProposal(img)
	if req.Topics == nil {
		for _, t := range img.Topics() {
			out := kmsg.NewElectLeadersResponseTopic()
			out.Topic = t.Name
			for _, part := range t.Partitions() {
				code, msg := c.electLeader(p, t.Name, part.ID, electionType)
				if code != errElectionNotNeeded {
					out.Partitions = append(out.Partitions, electLeadersPartition(part.ID, code, msg))
				}
			}
			resp.Topics = append(resp.Topics, out)
		}
		return Result{Records: p.records, Response: resp}
	}
	for _, rt := range req.Topics {
		out := kmsg.NewElectLeadersResponseTopic()
		out.Topic = rt.Topic
		for _, id := range rt.Partitions {
			code, msg := c.electLeader(p, rt.Topic, id, electionType)
			out.Partitions = append(out.Partitions, electLeadersPartition(id, code, msg))
		}
		resp.Topics = append(resp.Topics, out)
	}
	return Result{Records: p.records, Response: resp}
}

func electLeadersPartition(id int32, code int16, msg *string) kmsg.ElectLeadersResponseTopicPartition {
	out := kmsg.NewElectLeadersResponseTopicPartition()
	out.Partition, out.ErrorCode, out.ErrorMessage = id, code, msg
	return out
}

// electLeaders answers every named partition with code (Kafka's
// ElectLeadersRequest.getErrorResponse).
func electLeadersError(req *kmsg.ElectLeadersRequest, code int16, msg string) *kmsg.ElectLeadersResponse {
	resp := req.ResponseKind().(*kmsg.ElectLeadersResponse)
	resp.ErrorCode = code
	for _, rt := range req.Topics {
		out := kmsg.NewElectLeadersResponseTopic()
		out.Topic = rt.Topic
		for _, id := range rt.Partitions {
			var m *string
			if msg != "" {
				m = strp(msg)
			}
			out.Partitions = append(out.Partitions, electLeadersPartition(id, code, m))
		}
		resp.Topics = append(resp.Topics, out)
	}
	return resp
}

// electLeader is Kafka's electLeader for one partition: it adds the record, if any, to p.
func (c *Controller) electLeader(p *proposal, topicName string, partition int32, electionType int8) (int16, *string) {
	img := p.image()
	t, ok := img.TopicByName(topicName)
	if !ok {
		return errUnknownTopicOrPartition, strp("No such topic as " + topicName)
	}
	part, ok := t.Partition(partition)
	if !ok {
		return errUnknownTopicOrPartition, strp(fmt.Sprintf("No such partition as %s-%d", topicName, partition))
	}
	switch {
	case electionType == electionTypePreferred && part.Leader == part.Replicas[0]:
		return errElectionNotNeeded, nil
	case electionType == electionTypeUnclean && part.Leader != metadata.NoLeader:
		return errElectionNotNeeded, nil
	}
	b := c.newPartitionChangeBuilder(img, t, part, func(id int32) bool { return isActive(img, id) })
	b.election = electionPreferred
	if electionType == electionTypeUnclean {
		b.election = electionUnclean
	}
	r := b.build()
	if r == nil {
		if electionType == electionTypePreferred {
			return errPreferredLeaderNotAvailable, nil
		}
		return errEligibleLeadersNotAvailable, nil
	}
	p.add(r)
	return errNone, nil
}
