// Package config reads Weir's configuration the way Kafka reads it: Java .properties files
// (server.properties), a typed broker config with Kafka's key names, defaults and precedence
// rules, and topic-level configs (overrides over broker defaults) with Kafka's validation.
// It also maps a topic's effective config to the core/log.Config a partition log runs with.
//
// The package is pure: it parses bytes handed to it and never reads a file itself.
package config
