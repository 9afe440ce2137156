package producer

import "fmt"

// Config bounds one partition's producer state.
type Config struct {
	// ExpirationMs is producer.id.expiration.ms: a producer whose last batch timestamp is
	// this old (and that has no transaction open) is forgotten by RemoveExpired.
	ExpirationMs int64
	// ProducersMax bounds how many producer ids one partition remembers. Kafka has no such
	// bound (KIP-936 discusses the memory it costs); each producer costs about 250 bytes here, so
	// the default of 100000 is at most ~25 MiB per partition. At the bound CheckAppend first
	// drops expired producers, then refuses a new producer id with ErrTooManyProducers; known
	// producers keep producing. Recovery and replay never refuse: they evict the least
	// recently active producers instead (see trim).
	ProducersMax int
}

// Defaults, as Kafka's.
const (
	DefaultExpirationMs = 86400000 // producer.id.expiration.ms: one day
	DefaultProducersMax = 100000
)

// DefaultConfig returns Kafka's defaults and Weir's producer bound.
func DefaultConfig() Config {
	return Config{ExpirationMs: DefaultExpirationMs, ProducersMax: DefaultProducersMax}
}

// Validate checks that the values make sense.
func (c Config) Validate() error {
	if c.ExpirationMs < 1 {
		return fmt.Errorf("producer: producer.id.expiration.ms %d must be at least 1", c.ExpirationMs)
	}
	if c.ProducersMax < 1 {
		return fmt.Errorf("producer: producers per partition %d must be at least 1", c.ProducersMax)
	}
	return nil
}
