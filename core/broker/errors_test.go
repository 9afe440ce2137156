package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

// TestErrorCodesMatchKafka pins every error code the Node answers with to franz-go's table.
func TestErrorCodesMatchKafka(t *testing.T) {
	codes := map[int16]*kerr.Error{
		errOffsetOutOfRange:         kerr.OffsetOutOfRange,
		errCorruptMessage:           kerr.CorruptMessage,
		errUnknownTopicOrPartition:  kerr.UnknownTopicOrPartition,
		errLeaderNotAvailable:       kerr.LeaderNotAvailable,
		errRequestTimedOut:          kerr.RequestTimedOut,
		errMessageTooLarge:          kerr.MessageTooLarge,
		errInvalidTopic:             kerr.InvalidTopicException,
		errInvalidRequiredAcks:      kerr.InvalidRequiredAcks,
		errInvalidTimestamp:         kerr.InvalidTimestamp,
		errTopicAlreadyExists:       kerr.TopicAlreadyExists,
		errInvalidPartitions:        kerr.InvalidPartitions,
		errInvalidReplicationFactor: kerr.InvalidReplicationFactor,
		errInvalidReplicaAssignment: kerr.InvalidReplicaAssignment,
		errInvalidConfig:            kerr.InvalidConfig,
		errInvalidRequest:           kerr.InvalidRequest,
		errPolicyViolation:          kerr.PolicyViolation,
		errKafkaStorageError:        kerr.KafkaStorageError,
		errFetchSessionIDNotFound:   kerr.FetchSessionIDNotFound,
		errInvalidFetchSessionEpoch: kerr.InvalidFetchSessionEpoch,
		errFencedLeaderEpoch:        kerr.FencedLeaderEpoch,
		errUnknownLeaderEpoch:       kerr.UnknownLeaderEpoch,
		errInvalidRecord:            kerr.InvalidRecord,
		errUnknownTopicID:           kerr.UnknownTopicID,
		errUnsupportedEndpointType:  kerr.UnsupportedEndpointType,
	}
	for code, want := range codes {
		if code != want.Code {
			t.Errorf("code %d is meant to be %s, which is %d", code, want.Message, want.Code)
		}
	}
}
