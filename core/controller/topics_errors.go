package controller

import "fmt"

// Kafka error codes the controller answers with (Kafka's Errors enum; the numbers are kerr's).
const (
	errNone                     int16 = 0
	errUnknownTopicOrPartition  int16 = 3
	errInvalidTopic             int16 = 17
	errTopicAlreadyExists       int16 = 36
	errInvalidPartitions        int16 = 37
	errInvalidReplicationFactor int16 = 38
	errInvalidReplicaAssignment int16 = 39
	errInvalidConfig            int16 = 40
	errInvalidRequest           int16 = 42
	errPolicyViolation          int16 = 44
	errUnknownTopicID           int16 = 100
)

// apiError is a per-resource failure: Kafka's code and message.
type apiError struct {
	code int16
	msg  string
}

func (e *apiError) Error() string { return e.msg }

func errorf(code int16, format string, args ...any) *apiError {
	return &apiError{code: code, msg: fmt.Sprintf(format, args...)}
}

func strp(s string) *string { return &s }

// Kafka error codes of the replication commands (AlterPartition, ElectLeaders, reassignments).
const (
	errOperationNotAttempted       int16 = 55
	errFencedLeaderEpoch           int16 = 74
	errPreferredLeaderNotAvailable int16 = 80
	errEligibleLeadersNotAvailable int16 = 83
	errElectionNotNeeded           int16 = 84
	errNoReassignmentInProgress    int16 = 85
	errInvalidUpdateVersion        int16 = 95
	errIneligibleReplica           int16 = 107
	errNewLeaderElected            int16 = 108
)
