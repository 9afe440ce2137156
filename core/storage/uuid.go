package storage

import (
	"io"

	"github.com/weirdata/weir/core/uuid"
)

// UUID is Kafka's Uuid; cluster, directory and topic ids.
type UUID = uuid.UUID

// IsReservedDirectoryID reports whether u is one of the directory ids Kafka reserves
// (DirectoryId.reserved: the first 100, e.g. UNASSIGNED, LOST, MIGRATING).
func IsReservedDirectoryID(u UUID) bool {
	for _, b := range u[:15] {
		if b != 0 {
			return false
		}
	}
	return u[15] < 100
}

// RandomDirectoryID draws a directory id as Kafka's DirectoryId.random does: a random UUID
// that is not reserved.
func RandomDirectoryID(random io.Reader) (UUID, error) {
	for {
		u, err := uuid.Random(random)
		if err != nil || !IsReservedDirectoryID(u) {
			return u, err
		}
	}
}
