package main

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// topicPartition names one partition; it prints as Kafka's TopicPartition does: "topic-0".
type topicPartition struct {
	topic     string
	partition int32
}

func (tp topicPartition) String() string { return tp.topic + "-" + strconv.Itoa(int(tp.partition)) }

// compareTopicPartitions orders by topic, then partition, as Kafka's tools print.
func compareTopicPartitions(a, b topicPartition) int {
	if c := strings.Compare(a.topic, b.topic); c != 0 {
		return c
	}
	return cmp.Compare(a.partition, b.partition)
}

// joinTopicPartitions prints partitions sorted, separated by sep.
func joinTopicPartitions(parts []topicPartition, sep string) string {
	sorted := slices.Clone(parts)
	slices.SortFunc(sorted, compareTopicPartitions)
	s := make([]string, len(sorted))
	for i, tp := range sorted {
		s[i] = tp.String()
	}
	return strings.Join(s, sep)
}

// joinIDs prints broker ids as Kafka's tools do: 1,2,3.
func joinIDs(ids []int32) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.Itoa(int(id))
	}
	return strings.Join(s, ",")
}

// anyLogDir is the log_dirs entry meaning "wherever the broker puts it".
const anyLogDir = "any"

// reassignmentVersion is the only version of the reassignment and topics-to-move JSON files.
const reassignmentVersion = 1

// partitionAssignment is one partition's replicas in a reassignment file, in file order.
type partitionAssignment struct {
	tp       topicPartition
	replicas []int32
	logDirs  []string
}

// reassignmentFileJSON is the file kafka-reassign-partitions.sh reads and prints, field for
// field in Kafka's order, so that encoding/json prints the same bytes as Kafka's Jackson.
type reassignmentFileJSON struct {
	Version    int                         `json:"version"`
	Partitions []reassignmentPartitionJSON `json:"partitions"`
}

type reassignmentPartitionJSON struct {
	Topic     string   `json:"topic"`
	Partition int32    `json:"partition"`
	Replicas  []int32  `json:"replicas"`
	LogDirs   []string `json:"log_dirs"`
}

// formatReassignmentJSON prints assignments as Kafka does: one compact line, partitions sorted
// by topic and partition, "any" for every log dir.
func formatReassignmentJSON(assignments map[topicPartition][]int32) string {
	keys := make([]topicPartition, 0, len(assignments))
	for tp := range assignments {
		keys = append(keys, tp)
	}
	slices.SortFunc(keys, compareTopicPartitions)
	file := reassignmentFileJSON{Version: reassignmentVersion, Partitions: []reassignmentPartitionJSON{}}
	for _, tp := range keys {
		replicas := assignments[tp]
		logDirs := make([]string, len(replicas))
		for i := range logDirs {
			logDirs[i] = anyLogDir
		}
		file.Partitions = append(file.Partitions, reassignmentPartitionJSON{Topic: tp.topic, Partition: tp.partition, Replicas: nonNil(replicas), LogDirs: logDirs})
	}
	b, err := json.Marshal(file)
	if err != nil {
		panic(fmt.Sprintf("marshal of a reassignment file cannot fail: %v", err))
	}
	return string(b)
}

// decodeJSONObject parses data as one JSON object, refusing trailing data.
func decodeJSONObject(data []byte) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var obj map[string]json.RawMessage
	if err := dec.Decode(&obj); err != nil {
		return nil, fmt.Errorf("the input string is not valid JSON: %w", err)
	}
	if dec.More() {
		return nil, errors.New("the input string is not valid JSON: data after the top-level object")
	}
	if obj == nil {
		return nil, errors.New("the input string is not valid JSON: want an object, got null")
	}
	return obj, nil
}

// jsonVersion reads the optional "version" field, which must be 1 (Kafka's default when absent).
func jsonVersion(obj map[string]json.RawMessage) error {
	raw, ok := obj["version"]
	if !ok {
		return nil
	}
	var v int
	if err := json.Unmarshal(raw, &v); err != nil {
		return fmt.Errorf("field `version`: %w", err)
	}
	if v != reassignmentVersion {
		return fmt.Errorf("Not supported version field value %d", v)
	}
	return nil
}

// jsonField decodes the required field name of obj into v, with Kafka's message when absent.
func jsonField(obj map[string]json.RawMessage, name string, v any) error {
	raw, ok := obj[name]
	if !ok {
		return fmt.Errorf("No such field exists: `%s`", name)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("field `%s`: %w", name, err)
	}
	return nil
}

// parseReassignmentJSON parses a reassignment file ({"version":1,"partitions":[{"topic",
// "partition","replicas","log_dirs"?}]}), keeping file order and duplicates so that execute
// can refuse them with Kafka's messages.
func parseReassignmentJSON(data []byte) ([]partitionAssignment, error) {
	obj, err := decodeJSONObject(data)
	if err != nil {
		return nil, err
	}
	if err := jsonVersion(obj); err != nil {
		return nil, err
	}
	raw, ok := obj["partitions"]
	if !ok {
		return nil, nil
	}
	var entries []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &entries); err != nil {
		return nil, fmt.Errorf("field `partitions`: %w", err)
	}
	var list []partitionAssignment
	for _, e := range entries {
		var pa partitionAssignment
		if err := jsonField(e, "topic", &pa.tp.topic); err != nil {
			return nil, err
		}
		if err := jsonField(e, "partition", &pa.tp.partition); err != nil {
			return nil, err
		}
		if err := jsonField(e, "replicas", &pa.replicas); err != nil {
			return nil, err
		}
		if _, ok := e["log_dirs"]; ok {
			if err := jsonField(e, "log_dirs", &pa.logDirs); err != nil {
				return nil, err
			}
		} else {
			pa.logDirs = make([]string, len(pa.replicas))
			for i := range pa.logDirs {
				pa.logDirs[i] = anyLogDir
			}
		}
		if len(pa.replicas) != len(pa.logDirs) {
			return nil, fmt.Errorf("Size of replicas list %s is different from size of log dirs list %s for partition %s",
				javaList(pa.replicas), javaList(pa.logDirs), pa.tp)
		}
		list = append(list, pa)
	}
	return list, nil
}

// parseTopicsToMoveJSON parses a --topics-to-move-json-file ({"version":1,"topics":[{"topic"}]}).
func parseTopicsToMoveJSON(data []byte) ([]string, error) {
	obj, err := decodeJSONObject(data)
	if err != nil {
		return nil, err
	}
	if err := jsonVersion(obj); err != nil {
		return nil, err
	}
	raw, ok := obj["topics"]
	if !ok {
		return nil, nil
	}
	var entries []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &entries); err != nil {
		return nil, fmt.Errorf("field `topics`: %w", err)
	}
	var topics []string
	for _, e := range entries {
		var topic string
		if err := jsonField(e, "topic", &topic); err != nil {
			return nil, err
		}
		topics = append(topics, topic)
	}
	return topics, nil
}

// parseElectionJSON parses a --path-to-json-file of kafka-leader-election.sh
// ({"partitions":[{"topic","partition"}]}), refusing duplicates as Kafka does.
func parseElectionJSON(data []byte) ([]topicPartition, error) {
	obj, err := decodeJSONObject(data)
	if err != nil {
		return nil, err
	}
	raw, ok := obj["partitions"]
	if !ok {
		return nil, errors.New(`Replica election data is missing "partitions" field`)
	}
	var entries []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &entries); err != nil {
		return nil, fmt.Errorf("field `partitions`: %w", err)
	}
	var parts []topicPartition
	for _, e := range entries {
		var tp topicPartition
		if err := jsonField(e, "topic", &tp.topic); err != nil {
			return nil, err
		}
		if err := jsonField(e, "partition", &tp.partition); err != nil {
			return nil, err
		}
		parts = append(parts, tp)
	}
	if dups := duplicates(parts); len(dups) > 0 {
		return nil, fmt.Errorf("Replica election data contains duplicate partitions: [%s]", joinTopicPartitions(dups, ", "))
	}
	return parts, nil
}

// duplicates returns the values that occur more than once, each once, in first order.
func duplicates[T comparable](values []T) []T {
	seen := make(map[T]int, len(values))
	var dups []T
	for _, v := range values {
		seen[v]++
		if seen[v] == 2 {
			dups = append(dups, v)
		}
	}
	return dups
}

// javaList prints a list as Java's List.toString does: [1, 2, 3].
func javaList[T any](values []T) string {
	s := make([]string, len(values))
	for i, v := range values {
		s[i] = fmt.Sprint(v)
	}
	return "[" + strings.Join(s, ", ") + "]"
}
