package metadata

import "github.com/weirdata/weir/core/uuid"

// UUID is Kafka's Uuid: topic ids and directory ids in metadata records.
type UUID = uuid.UUID
