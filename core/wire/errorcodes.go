package wire

// Kafka error codes this package answers with (Kafka's Errors enum; franz-go's kerr has the
// same numbers, and a test pins them to it). They are plain int16 here rather than kerr values
// so that core/ needs no dependency beyond kmsg; a response field carries the int16 anyway.
const (
	NoError                     int16 = 0
	CorruptMessage              int16 = 2  // CORRUPT_MESSAGE: damaged bytes; clients retry
	UnsupportedVersion          int16 = 35 // UNSUPPORTED_VERSION
	UnsupportedForMessageFormat int16 = 43 // UNSUPPORTED_FOR_MESSAGE_FORMAT
	UnsupportedCompressionType  int16 = 76 // UNSUPPORTED_COMPRESSION_TYPE
	InvalidRecord               int16 = 87 // INVALID_RECORD: breaks the format's rules; not retried
)
