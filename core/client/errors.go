package client

import "strconv"

// Kafka error codes the client acts on (Kafka's Errors enum; a test pins the whole table below to
// franz-go's kerr). Plain int16, as responses carry them: core/ does not import kerr.
const (
	errNone                         int16 = 0
	errUnknownServerError           int16 = -1
	errOffsetOutOfRange             int16 = 1
	errCorruptMessage               int16 = 2
	errUnknownTopicOrPartition      int16 = 3
	errLeaderNotAvailable           int16 = 5
	errNotLeaderOrFollower          int16 = 6
	errRequestTimedOut              int16 = 7
	errBrokerNotAvailable           int16 = 8
	errReplicaNotAvailable          int16 = 9
	errNetworkException             int16 = 13
	errNotEnoughReplicasAfterAppend int16 = 20
	errNotController                int16 = 41
	errUnsupportedVersion           int16 = 35
	errOutOfOrderSequenceNumber     int16 = 45
	errDuplicateSequenceNumber      int16 = 46
	errInvalidProducerEpoch         int16 = 47
	errKafkaStorageError            int16 = 56
	errUnknownProducerID            int16 = 59
	errListenerNotFound             int16 = 72
	errFencedLeaderEpoch            int16 = 74
	errUnknownLeaderEpoch           int16 = 75
	errOffsetNotAvailable           int16 = 78
	errUnknownTopicID               int16 = 100
	errInconsistentTopicID          int16 = 103
)

// kafkaError is one entry of Kafka's error table: its name and whether Kafka's clients retry it
// (Kafka's RetriableException subclasses).
type kafkaError struct {
	code      int16
	name      string
	retriable bool
}

// kafkaErrors is Kafka's error table, indexed by code+1 (UNKNOWN_SERVER_ERROR is -1).
var kafkaErrors = [...]kafkaError{
	{-1, "UNKNOWN_SERVER_ERROR", false},
	{0, "NONE", false},
	{1, "OFFSET_OUT_OF_RANGE", false},
	{2, "CORRUPT_MESSAGE", true},
	{3, "UNKNOWN_TOPIC_OR_PARTITION", true},
	{4, "INVALID_FETCH_SIZE", false},
	{5, "LEADER_NOT_AVAILABLE", true},
	{6, "NOT_LEADER_OR_FOLLOWER", true},
	{7, "REQUEST_TIMED_OUT", true},
	{8, "BROKER_NOT_AVAILABLE", true},
	{9, "REPLICA_NOT_AVAILABLE", true},
	{10, "MESSAGE_TOO_LARGE", false},
	{11, "STALE_CONTROLLER_EPOCH", false},
	{12, "OFFSET_METADATA_TOO_LARGE", false},
	{13, "NETWORK_EXCEPTION", true},
	{14, "COORDINATOR_LOAD_IN_PROGRESS", true},
	{15, "COORDINATOR_NOT_AVAILABLE", true},
	{16, "NOT_COORDINATOR", true},
	{17, "INVALID_TOPIC_EXCEPTION", false},
	{18, "RECORD_LIST_TOO_LARGE", false},
	{19, "NOT_ENOUGH_REPLICAS", true},
	{20, "NOT_ENOUGH_REPLICAS_AFTER_APPEND", true},
	{21, "INVALID_REQUIRED_ACKS", false},
	{22, "ILLEGAL_GENERATION", false},
	{23, "INCONSISTENT_GROUP_PROTOCOL", false},
	{24, "INVALID_GROUP_ID", false},
	{25, "UNKNOWN_MEMBER_ID", false},
	{26, "INVALID_SESSION_TIMEOUT", false},
	{27, "REBALANCE_IN_PROGRESS", false},
	{28, "INVALID_COMMIT_OFFSET_SIZE", false},
	{29, "TOPIC_AUTHORIZATION_FAILED", false},
	{30, "GROUP_AUTHORIZATION_FAILED", false},
	{31, "CLUSTER_AUTHORIZATION_FAILED", false},
	{32, "INVALID_TIMESTAMP", false},
	{33, "UNSUPPORTED_SASL_MECHANISM", false},
	{34, "ILLEGAL_SASL_STATE", false},
	{35, "UNSUPPORTED_VERSION", false},
	{36, "TOPIC_ALREADY_EXISTS", false},
	{37, "INVALID_PARTITIONS", false},
	{38, "INVALID_REPLICATION_FACTOR", false},
	{39, "INVALID_REPLICA_ASSIGNMENT", false},
	{40, "INVALID_CONFIG", false},
	{41, "NOT_CONTROLLER", true},
	{42, "INVALID_REQUEST", false},
	{43, "UNSUPPORTED_FOR_MESSAGE_FORMAT", false},
	{44, "POLICY_VIOLATION", false},
	{45, "OUT_OF_ORDER_SEQUENCE_NUMBER", false},
	{46, "DUPLICATE_SEQUENCE_NUMBER", false},
	{47, "INVALID_PRODUCER_EPOCH", false},
	{48, "INVALID_TXN_STATE", false},
	{49, "INVALID_PRODUCER_ID_MAPPING", false},
	{50, "INVALID_TRANSACTION_TIMEOUT", false},
	{51, "CONCURRENT_TRANSACTIONS", false},
	{52, "TRANSACTION_COORDINATOR_FENCED", false},
	{53, "TRANSACTIONAL_ID_AUTHORIZATION_FAILED", false},
	{54, "SECURITY_DISABLED", false},
	{55, "OPERATION_NOT_ATTEMPTED", false},
	{56, "KAFKA_STORAGE_ERROR", true},
	{57, "LOG_DIR_NOT_FOUND", false},
	{58, "SASL_AUTHENTICATION_FAILED", false},
	{59, "UNKNOWN_PRODUCER_ID", false},
	{60, "REASSIGNMENT_IN_PROGRESS", false},
	{61, "DELEGATION_TOKEN_AUTH_DISABLED", false},
	{62, "DELEGATION_TOKEN_NOT_FOUND", false},
	{63, "DELEGATION_TOKEN_OWNER_MISMATCH", false},
	{64, "DELEGATION_TOKEN_REQUEST_NOT_ALLOWED", false},
	{65, "DELEGATION_TOKEN_AUTHORIZATION_FAILED", false},
	{66, "DELEGATION_TOKEN_EXPIRED", false},
	{67, "INVALID_PRINCIPAL_TYPE", false},
	{68, "NON_EMPTY_GROUP", false},
	{69, "GROUP_ID_NOT_FOUND", false},
	{70, "FETCH_SESSION_ID_NOT_FOUND", true},
	{71, "INVALID_FETCH_SESSION_EPOCH", true},
	{72, "LISTENER_NOT_FOUND", true},
	{73, "TOPIC_DELETION_DISABLED", false},
	{74, "FENCED_LEADER_EPOCH", true},
	{75, "UNKNOWN_LEADER_EPOCH", true},
	{76, "UNSUPPORTED_COMPRESSION_TYPE", false},
	{77, "STALE_BROKER_EPOCH", false},
	{78, "OFFSET_NOT_AVAILABLE", true},
	{79, "MEMBER_ID_REQUIRED", false},
	{80, "PREFERRED_LEADER_NOT_AVAILABLE", true},
	{81, "GROUP_MAX_SIZE_REACHED", false},
	{82, "FENCED_INSTANCE_ID", false},
	{83, "ELIGIBLE_LEADERS_NOT_AVAILABLE", true},
	{84, "ELECTION_NOT_NEEDED", true},
	{85, "NO_REASSIGNMENT_IN_PROGRESS", false},
	{86, "GROUP_SUBSCRIBED_TO_TOPIC", false},
	{87, "INVALID_RECORD", false},
	{88, "UNSTABLE_OFFSET_COMMIT", true},
	{89, "THROTTLING_QUOTA_EXCEEDED", true},
	{90, "PRODUCER_FENCED", false},
	{91, "RESOURCE_NOT_FOUND", false},
	{92, "DUPLICATE_RESOURCE", false},
	{93, "UNACCEPTABLE_CREDENTIAL", false},
	{94, "INCONSISTENT_VOTER_SET", false},
	{95, "INVALID_UPDATE_VERSION", false},
	{96, "FEATURE_UPDATE_FAILED", false},
	{97, "PRINCIPAL_DESERIALIZATION_FAILURE", false},
	{98, "SNAPSHOT_NOT_FOUND", false},
	{99, "POSITION_OUT_OF_RANGE", false},
	{100, "UNKNOWN_TOPIC_ID", true},
	{101, "DUPLICATE_BROKER_REGISTRATION", false},
	{102, "BROKER_ID_NOT_REGISTERED", false},
	{103, "INCONSISTENT_TOPIC_ID", true},
	{104, "INCONSISTENT_CLUSTER_ID", false},
	{105, "TRANSACTIONAL_ID_NOT_FOUND", false},
	{106, "FETCH_SESSION_TOPIC_ID_ERROR", true},
	{107, "INELIGIBLE_REPLICA", false},
	{108, "NEW_LEADER_ELECTED", false},
	{109, "OFFSET_MOVED_TO_TIERED_STORAGE", false},
	{110, "FENCED_MEMBER_EPOCH", false},
	{111, "UNRELEASED_INSTANCE_ID", false},
	{112, "UNSUPPORTED_ASSIGNOR", false},
	{113, "STALE_MEMBER_EPOCH", false},
	{114, "MISMATCHED_ENDPOINT_TYPE", false},
	{115, "UNSUPPORTED_ENDPOINT_TYPE", false},
	{116, "UNKNOWN_CONTROLLER_ID", false},
	{117, "UNKNOWN_SUBSCRIPTION_ID", false},
	{118, "TELEMETRY_TOO_LARGE", false},
	{119, "INVALID_REGISTRATION", false},
	{120, "TRANSACTION_ABORTABLE", false},
	{121, "INVALID_RECORD_STATE", false},
	{122, "SHARE_SESSION_NOT_FOUND", false},
	{123, "INVALID_SHARE_SESSION_EPOCH", false},
	{124, "FENCED_STATE_EPOCH", false},
	{125, "INVALID_VOTER_KEY", false},
	{126, "DUPLICATE_VOTER", false},
	{127, "VOTER_NOT_FOUND", false},
	{128, "INVALID_REGULAR_EXPRESSION", false},
	{129, "REBOOTSTRAP_REQUIRED", false},
	{130, "STREAMS_INVALID_TOPOLOGY", false},
	{131, "STREAMS_INVALID_TOPOLOGY_EPOCH", false},
	{132, "STREAMS_TOPOLOGY_FENCED", false},
	{133, "SHARE_SESSION_LIMIT_REACHED", true},
	{134, "GROUP_DELETION_FAILED", false},
	{135, "STREAMS_TOPOLOGY_DESCRIPTION_UPDATE_FAILED", false},
	{136, "CONTROLLER_ID_NOT_REGISTERED", false},
}

// lookupError returns the table entry for code; ok is false for a code Kafka has not defined.
func lookupError(code int16) (kafkaError, bool) {
	i := int(code) + 1
	if i < 0 || i >= len(kafkaErrors) {
		return kafkaError{}, false
	}
	e := kafkaErrors[i]
	return e, e.code == code
}

// ErrorName is Kafka's name for an error code ("NOT_LEADER_OR_FOLLOWER"); an undefined code is
// named by its number.
func ErrorName(code int16) string {
	if e, ok := lookupError(code); ok {
		return e.name
	}
	return "UNKNOWN_ERROR_CODE_" + strconv.Itoa(int(code))
}

// errorRetriable reports whether Kafka's clients retry code. An undefined code is not retried.
func errorRetriable(code int16) bool {
	e, ok := lookupError(code)
	return ok && e.retriable
}

// errorNeedsMetadata reports whether code means the client's view of leaders or topics may be
// stale, so metadata is refreshed before the retry (Kafka's InvalidMetadataException family,
// and a lost connection).
func errorNeedsMetadata(code int16) bool {
	switch code {
	case errUnknownTopicOrPartition, errLeaderNotAvailable, errNotLeaderOrFollower,
		errBrokerNotAvailable, errReplicaNotAvailable, errNetworkException, errNotController,
		errKafkaStorageError, errListenerNotFound, errFencedLeaderEpoch, errUnknownLeaderEpoch,
		errUnknownTopicID, errInconsistentTopicID:
		return true
	}
	return false
}

// produceErrorMaybeAppended reports whether a produce answered with code may still have been
// appended, so that giving up on it is an unknown outcome rather than a failure:
//   - REQUEST_TIMED_OUT and NOT_ENOUGH_REPLICAS_AFTER_APPEND: appended by the leader, not yet
//     acknowledged by enough replicas (kgo marks the batch "unsure if produced");
//   - NOT_LEADER_OR_FOLLOWER: a leader that appended an acks=all batch and then lost
//     leadership answers this from its purgatory, and a follower may already hold the batch;
//   - KAFKA_STORAGE_ERROR and UNKNOWN_SERVER_ERROR: the append may have been under way;
//   - NETWORK_EXCEPTION: no answer at all;
//   - any code Kafka has not defined.
//
// Every other defined code is returned by checks made before the append.
func produceErrorMaybeAppended(code int16) bool {
	switch code {
	case errRequestTimedOut, errNotEnoughReplicasAfterAppend, errNotLeaderOrFollower,
		errKafkaStorageError, errUnknownServerError, errNetworkException:
		return true
	}
	_, defined := lookupError(code)
	return !defined
}
