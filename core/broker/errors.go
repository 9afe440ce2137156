package broker

import "fmt"

// Kafka error codes the Node answers with (Kafka's Errors enum; the numbers are kerr's).
const (
	errNone                     int16 = 0
	errOffsetOutOfRange         int16 = 1
	errCorruptMessage           int16 = 2
	errUnknownTopicOrPartition  int16 = 3
	errLeaderNotAvailable       int16 = 5
	errNotLeaderOrFollower      int16 = 6
	errRequestTimedOut          int16 = 7
	errMessageTooLarge          int16 = 10
	errInvalidTopic             int16 = 17
	errInvalidRequiredAcks      int16 = 21
	errTopicAlreadyExists       int16 = 36
	errInvalidPartitions        int16 = 37
	errInvalidReplicationFactor int16 = 38
	errInvalidReplicaAssignment int16 = 39
	errInvalidConfig            int16 = 40
	errInvalidRequest           int16 = 42
	errPolicyViolation          int16 = 44
	errKafkaStorageError        int16 = 56
	errUnknownTopicID           int16 = 100
	errInvalidTimestamp         int16 = 32
	errInvalidRecord            int16 = 87

	errCoordinatorLoadInProgress int16 = 14
	errOutOfOrderSequenceNumber  int16 = 45
	errInvalidProducerEpoch      int16 = 47
	errInvalidTxnState           int16 = 48
	errTransactionalIDAuthFailed int16 = 53
	errUnknownServerError        int16 = -1
	errThrottlingQuotaExceeded   int16 = 89

	errNotEnoughReplicas            int16 = 19
	errNotEnoughReplicasAfterAppend int16 = 20
	errOffsetNotAvailable           int16 = 78
)

func strp(s string) *string { return &s }

// codeName names a Kafka error code in a log line.
func codeName(code int16) string { return fmt.Sprintf("Kafka error code %d", code) }
