package controller

// Kafka error codes of the broker-lifecycle commands (Kafka's Errors enum; the numbers are kerr's).
const (
	errUnknownServerError          int16 = -1
	errUnsupportedVersion          int16 = 35
	errNotController               int16 = 41
	errStaleBrokerEpoch            int16 = 77
	errDuplicateBrokerRegistration int16 = 101
	errBrokerIDNotRegistered       int16 = 102
	errInconsistentClusterID       int16 = 104
	errInvalidRegistration         int16 = 119
)
