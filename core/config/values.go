package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Value parsers shared by broker and topic keys. They follow Kafka's ConfigDef.parseType:
// surrounding whitespace is trimmed, INT is a Java int, LONG a Java long, BOOLEAN is "true" or
// "false" in any case, LIST is comma-separated with whitespace around commas ignored.

// InvalidValueError is a value a key cannot take.
type InvalidValueError struct {
	Key    string
	Value  string
	Reason string
}

func (e *InvalidValueError) Error() string {
	return fmt.Sprintf("invalid value %q for configuration %s: %s", e.Value, e.Key, e.Reason)
}

func invalid(key, value, format string, args ...any) error {
	return &InvalidValueError{Key: key, Value: value, Reason: fmt.Sprintf(format, args...)}
}

func parseInt32(key, value string, minimum, maximum int64) (int32, error) {
	n, err := parseIntRange(key, value, 32, "INT", minimum, maximum)
	return int32(n), err
}

func parseInt64(key, value string, minimum, maximum int64) (int64, error) {
	return parseIntRange(key, value, 64, "LONG", minimum, maximum)
}

func parseIntRange(key, value string, bits int, typeName string, minimum, maximum int64) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(value), 10, bits)
	if err != nil {
		return 0, invalid(key, value, "not a number of type %s", typeName)
	}
	if n < minimum {
		return 0, invalid(key, value, "value must be at least %d", minimum)
	}
	if n > maximum {
		return 0, invalid(key, value, "value must be no more than %d", maximum)
	}
	return n, nil
}

func parseBool(key, value string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(value)) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, invalid(key, value, "expected value to be either true or false")
}

// parseList splits a Kafka LIST value; an empty value is an empty list.
func parseList(value string) []string {
	value = strings.TrimSpace(value)
	if value == "" {
		return nil
	}
	parts := strings.Split(value, ",")
	out := make([]string, 0, len(parts))
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// parseOneOf accepts exactly one of allowed (case-sensitive, as Kafka's ValidString).
func parseOneOf(key, value string, allowed ...string) (string, error) {
	v := strings.TrimSpace(value)
	for _, a := range allowed {
		if v == a {
			return v, nil
		}
	}
	return "", invalid(key, value, "string must be one of: %s", strings.Join(allowed, ", "))
}

// parseListOf accepts a list whose items are each one of allowed, without duplicates.
func parseListOf(key, value string, allowEmpty bool, allowed ...string) ([]string, error) {
	items := parseList(value)
	if len(items) == 0 && !allowEmpty {
		return nil, invalid(key, value, "empty list is not allowed")
	}
	seen := map[string]bool{}
	for _, item := range items {
		ok := false
		for _, a := range allowed {
			ok = ok || item == a
		}
		if !ok {
			return nil, invalid(key, value, "%q is not one of: %s", item, strings.Join(allowed, ", "))
		}
		if seen[item] {
			return nil, invalid(key, value, "duplicate entry %q", item)
		}
		seen[item] = true
	}
	return items, nil
}

// parseRatioPpm parses a Java double in [0, 1] as parts per million, so decisions made with
// it (the cleaner's dirty ratio) use integers only.
func parseRatioPpm(key, value string) (int64, error) {
	f, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
	if err != nil || math.IsNaN(f) {
		return 0, invalid(key, value, "not a number of type DOUBLE")
	}
	if f < 0 || f > 1 {
		return 0, invalid(key, value, "value must be between 0 and 1")
	}
	return int64(math.Round(f * 1e6)), nil
}

func formatRatioPpm(ppm int64) string {
	s := strconv.FormatFloat(float64(ppm)/1e6, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0" // Java prints doubles with a fraction: 1.0, 0.5
	}
	return s
}

func formatList(items []string) string { return strings.Join(items, ",") }
