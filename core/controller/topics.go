package controller

// CreateTopics, as Kafka's ReplicationControlManager.createTopics decides it.
//
// Per topic, in this order: a name twice in the request is INVALID_REQUEST ("Found multiple
// entries for this topic.", one answer for the name); an illegal name INVALID_TOPIC_EXCEPTION;
// an internal name INVALID_REQUEST; an existing topic TOPIC_ALREADY_EXISTS; a name that
// collides with an existing topic (or one created earlier in the request) once '.' and '_' are
// treated alike INVALID_TOPIC_EXCEPTION; a null or bad config value INVALID_CONFIG. Then the
// partitions: an explicit assignment excludes both counts (INVALID_REQUEST) and must name
// consecutive partitions from 0 with registered, distinct brokers and one replica count
// (INVALID_REPLICA_ASSIGNMENT); otherwise -1 takes num.partitions and
// default.replication.factor, a non-positive count is INVALID_PARTITIONS or
// INVALID_REPLICATION_FACTOR, and placement.go places the replicas (INVALID_REPLICATION_FACTOR
// when the usable brokers are too few). More than partitionsPerRequestMax partitions in one
// request fail every topic with POLICY_VIOLATION, as Kafka.
//
// Each new partition starts with its unfenced replicas as ISR and the first of them as leader;
// a manual assignment whose brokers are all fenced is INVALID_REPLICA_ASSIGNMENT.
//
// The records of every successful topic form one Result (atomic); ValidateOnly answers the
// same without records (and with a zero topic id: no topic exists under it). Answers v5+ carry
// the partition count, the replication factor and the topic's configs with their sources.
//
// Left out: CreateTopicPolicy, controller mutation quotas.

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/metadata"
	"github.com/weirdata/weir/core/storage"
	"github.com/weirdata/weir/core/uuid"
)

// InternalTopics are Kafka's internal topics: clients may neither create nor delete them.
var InternalTopics = []string{"__consumer_offsets", "__transaction_state", storage.MetadataTopic}

// partitionsPerRequestMax is Kafka's MAX_PARTITIONS_PER_BATCH: the most partitions one
// CreateTopics or CreatePartitions may add, which bounds a Result's records.
const partitionsPerRequestMax = 10_000

// newTopicRequest is one topic of a CreateTopics request, decoded.
type newTopicRequest struct {
	name              string
	partitions        int32
	replicationFactor int16
	assignment        [][]int32 // nil: place automatically
	configs           map[string]string
}

// CreateTopics decides a CreateTopics request on img, the latest image.
func (c *Controller) CreateTopics(img *metadata.Image, nowMs int64, req *kmsg.CreateTopicsRequest) Result {
	resp := kmsg.NewPtrCreateTopicsResponse()
	resp.Version = req.Version
	counts := make(map[string]int, len(req.Topics))
	for _, t := range req.Topics {
		counts[t.Topic]++
	}
	if total := requestedPartitions(c, req); total > partitionsPerRequestMax {
		seen := make(map[string]bool, len(req.Topics))
		for _, rt := range req.Topics {
			if !seen[rt.Topic] {
				seen[rt.Topic] = true
				resp.Topics = append(resp.Topics, createTopicError(rt.Topic, errorf(errPolicyViolation, "Excessively large number of partitions per request.")))
			}
		}
		return Result{Response: resp}
	}
	var records []metadata.Record
	collisions := newCollisionIndex(img)
	ids := make(map[uuid.UUID]bool) // ids this request gives
	seen := make(map[string]bool, len(req.Topics))
	for i := range req.Topics {
		rt := &req.Topics[i]
		if seen[rt.Topic] {
			continue
		}
		seen[rt.Topic] = true
		if counts[rt.Topic] > 1 {
			resp.Topics = append(resp.Topics, createTopicError(rt.Topic, errorf(errInvalidRequest, "Found multiple entries for this topic.")))
			continue
		}
		nt, aerr := decodeNewTopic(rt)
		if aerr == nil {
			aerr = validateNewTopicName(img, nt.name, collisions)
		}
		if aerr != nil {
			resp.Topics = append(resp.Topics, createTopicError(rt.Topic, aerr))
			continue
		}
		topicRecords, out, aerr := c.createTopic(img, nt, req.ValidateOnly, ids)
		if aerr != nil {
			resp.Topics = append(resp.Topics, createTopicError(rt.Topic, aerr))
			continue
		}
		if req.Version < 5 {
			out.NumPartitions, out.ReplicationFactor, out.Configs = -1, -1, nil
		}
		collisions.add(nt.name)
		ids[out.TopicID] = true
		records = append(records, topicRecords...)
		resp.Topics = append(resp.Topics, out)
	}
	return Result{Records: records, Response: resp}
}

// requestedPartitions is the number of partitions the request's topics would add.
func requestedPartitions(c *Controller, req *kmsg.CreateTopicsRequest) int64 {
	var total int64
	for _, rt := range req.Topics {
		switch {
		case len(rt.ReplicaAssignment) > 0:
			total += int64(len(rt.ReplicaAssignment))
		case rt.NumPartitions == -1:
			total += int64(c.cfg.Broker.NumPartitions)
		case rt.NumPartitions > 0:
			total += int64(rt.NumPartitions)
		}
	}
	return total
}

func createTopicError(name string, e *apiError) kmsg.CreateTopicsResponseTopic {
	out := kmsg.NewCreateTopicsResponseTopic()
	out.Topic = name
	out.ErrorCode, out.ErrorMessage = e.code, strp(e.msg)
	return out
}

// decodeNewTopic reads one requested topic: its configs (a null value is INVALID_CONFIG, as
// Kafka) and its manual assignment, which must number partitions 0, 1, ... in some order.
func decodeNewTopic(rt *kmsg.CreateTopicsRequestTopic) (newTopicRequest, *apiError) {
	nt := newTopicRequest{name: rt.Topic, partitions: rt.NumPartitions, replicationFactor: rt.ReplicationFactor,
		configs: make(map[string]string, len(rt.Configs))}
	for _, cfg := range rt.Configs {
		if cfg.Value == nil {
			return nt, errorf(errInvalidConfig, "Null value not supported for topic configs: %s", cfg.Name)
		}
		nt.configs[cfg.Name] = *cfg.Value
	}
	if len(rt.ReplicaAssignment) == 0 {
		return nt, nil
	}
	if rt.ReplicationFactor != -1 {
		return nt, errorf(errInvalidRequest, "A manual partition assignment was specified, but replication factor was not set to -1.")
	}
	if rt.NumPartitions != -1 {
		return nt, errorf(errInvalidRequest, "A manual partition assignment was specified, but numPartitions was not set to -1.")
	}
	nt.assignment = make([][]int32, len(rt.ReplicaAssignment))
	for _, a := range rt.ReplicaAssignment {
		p := a.Partition
		if p < 0 || int(p) >= len(nt.assignment) {
			return nt, errorf(errInvalidReplicaAssignment, "partitions should be a consecutive 0-based integer sequence")
		}
		if nt.assignment[p] != nil {
			return nt, errorf(errInvalidReplicaAssignment, "Found multiple manual partition assignments for partition %d", p)
		}
		nt.assignment[p] = slices.Clone(a.Replicas)
		if nt.assignment[p] == nil {
			nt.assignment[p] = []int32{} // present but empty: checkAssignment refuses it
		}
	}
	return nt, nil
}

// validateNewTopicName applies Kafka's rules for a topic to be created: a legal name, not an
// internal one, not an existing topic, and no collision with an existing topic (or one this
// request creates) once '.' and '_' are treated alike: metric names cannot tell them apart.
func validateNewTopicName(img *metadata.Image, name string, collisions *collisionIndex) *apiError {
	if err := metadata.ValidateTopicName(name); err != nil {
		return errorf(errInvalidTopic, "%s", err.Error())
	}
	if slices.Contains(InternalTopics, name) {
		return errorf(errInvalidRequest, "Creation of internal topic %s is not allowed.", name)
	}
	if _, ok := img.TopicByName(name); ok {
		return errorf(errTopicAlreadyExists, "Topic '%s' already exists.", name)
	}
	if other, ok := collisions.find(name); ok {
		return errorf(errInvalidTopic, "Topic '%s' collides with existing topic: %s", name, other)
	}
	return nil
}

// collisionIndex maps the '.'-to-'_' form of the names with either character, of the image's
// topics and of those a request creates, to a name that has it. It is built on first use:
// most requests name no topic with either character.
type collisionIndex struct {
	img    *metadata.Image
	byForm map[string]string
}

func newCollisionIndex(img *metadata.Image) *collisionIndex { return &collisionIndex{img: img} }

func (ci *collisionIndex) build() {
	if ci.byForm != nil {
		return
	}
	ci.byForm = make(map[string]string)
	for _, t := range ci.img.Topics() {
		if strings.ContainsAny(t.Name, "._") {
			ci.byForm[unifyCollision(t.Name)] = t.Name
		}
	}
}

// find returns a topic whose name collides with name.
func (ci *collisionIndex) find(name string) (string, bool) {
	if !strings.ContainsAny(name, "._") {
		return "", false
	}
	ci.build()
	other, ok := ci.byForm[unifyCollision(name)]
	return other, ok
}

// add records a name the request creates.
func (ci *collisionIndex) add(name string) {
	if strings.ContainsAny(name, "._") {
		ci.build()
		ci.byForm[unifyCollision(name)] = name
	}
}

func unifyCollision(name string) string { return strings.ReplaceAll(name, ".", "_") }

// createTopic decides one validated-name topic: configs, then partitions. It returns the
// topic's records (none when validateOnly) and its answer. taken are ids this request gave.
func (c *Controller) createTopic(img *metadata.Image, nt newTopicRequest, validateOnly bool, taken map[uuid.UUID]bool) ([]metadata.Record, kmsg.CreateTopicsResponseTopic, *apiError) {
	out := kmsg.NewCreateTopicsResponseTopic()
	out.Topic = nt.name
	tc, aerr := c.checkTopicConfigs(img, nt.name, nt.configs)
	if aerr != nil {
		return nil, out, errorf(aerr.code, "Invalid config value for resource ConfigResource(type=TOPIC, name='%s'): %s", nt.name, aerr.msg)
	}
	replicas, aerr := c.assignNewTopic(img, nt)
	if aerr != nil {
		return nil, out, aerr
	}
	out.NumPartitions = int32(len(replicas))
	out.ReplicationFactor = int16(len(replicas[0]))
	for _, e := range TopicConfigEntries(&c.cfg.Broker, img, c.cfg.NodeID, &tc, nt.configs, nil) {
		ce := kmsg.NewCreateTopicsResponseTopicConfig()
		ce.Name, ce.Value, ce.Source = e.Name, strp(e.Value), e.Source
		out.Configs = append(out.Configs, ce)
	}
	if validateOnly {
		return nil, out, nil
	}
	id := uuid.FromRand(c.rng)
	for c.idTaken(img, id, taken) {
		id = uuid.FromRand(c.rng)
	}
	records, err := metadata.NewTopicRecords(nt.name, id, replicas, nt.configs)
	if err != nil {
		panic(fmt.Sprintf("controller: invariant: records of validated topic %s: %v", nt.name, err))
	}
	records = withUnfencedISR(img, records)
	out.TopicID = id
	return records, out, nil
}

func (c *Controller) idTaken(img *metadata.Image, id uuid.UUID, taken map[uuid.UUID]bool) bool {
	_, exists := img.TopicByID(id)
	return exists || taken[id]
}

// assignNewTopic returns the replicas of each partition of a new topic.
func (c *Controller) assignNewTopic(img *metadata.Image, nt newTopicRequest) ([][]int32, *apiError) {
	if nt.assignment != nil {
		if aerr := checkAssignment(img, nt.assignment, 0); aerr != nil {
			return nil, aerr
		}
		return nt.assignment, nil
	}
	partitions, rf := nt.partitions, nt.replicationFactor
	if partitions < -1 || partitions == 0 {
		return nil, errorf(errInvalidPartitions, "Number of partitions was set to an invalid non-positive value.")
	}
	if rf < -1 || rf == 0 {
		return nil, errorf(errInvalidReplicationFactor, "Replication factor must be larger than 0, or -1 to use the default value.")
	}
	if partitions == -1 {
		partitions = c.cfg.Broker.NumPartitions
	}
	if rf == -1 {
		rf = c.cfg.Broker.DefaultReplicationFactor
	}
	p := newPlacer(img, c.rng, nil)
	if aerr := p.checkReplicationFactor(int(rf)); aerr != nil {
		return nil, errorf(aerr.code, "Unable to replicate the partition %d time(s): %s", rf, aerr.msg)
	}
	replicas := make([][]int32, partitions)
	for i := range replicas {
		replicas[i] = p.place(int(rf))
	}
	return replicas, nil
}

// checkAssignment checks a manual assignment of partitions first, first+1, ... as Kafka's
// validateManualPartitionAssignment: replicas listed, registered, distinct, one replica count
// throughout, and at least one unfenced replica per partition (the leader).
func checkAssignment(img *metadata.Image, assignment [][]int32, first int32) *apiError {
	rf := -1
	for i, replicas := range assignment {
		p := first + int32(i)
		if len(replicas) == 0 {
			return errorf(errInvalidReplicaAssignment, "The manual partition assignment includes an empty replica list.")
		}
		sorted := slices.Sorted(slices.Values(replicas))
		for j, id := range sorted {
			if _, ok := img.Broker(id); !ok {
				return errorf(errInvalidReplicaAssignment, "The manual partition assignment includes broker %d, but no such broker is registered.", id)
			}
			if j > 0 && sorted[j-1] == id {
				return errorf(errInvalidReplicaAssignment, "The manual partition assignment includes the broker %d more than once.", id)
			}
		}
		if rf >= 0 && len(replicas) != rf {
			return errorf(errInvalidReplicaAssignment, "The manual partition assignment includes a partition with %d replica(s), but this is not consistent with previous partitions, which have %d replica(s).", len(replicas), rf)
		}
		rf = len(replicas)
		if len(unfencedOf(img, replicas)) == 0 {
			return errorf(errInvalidReplicaAssignment, "All brokers specified in the manual partition assignment for partition %d are fenced or in controlled shutdown.", p)
		}
	}
	return nil
}

// unfencedOf keeps the replicas whose broker is unfenced and not shutting down (Kafka's
// isActive), in order: a new partition's ISR.
func unfencedOf(img *metadata.Image, replicas []int32) []int32 {
	var out []int32
	for _, id := range replicas {
		if b, ok := img.Broker(id); ok && !b.Fenced && !b.InControlledShutdown {
			out = append(out, id)
		}
	}
	return out
}

// withUnfencedISR narrows each new PartitionRecord's ISR to its active replicas and makes the
// first of them leader, as Kafka's buildPartitionRegistration. Placement uses active brokers
// only, so only a manual assignment changes here.
func withUnfencedISR(img *metadata.Image, records []metadata.Record) []metadata.Record {
	for _, r := range records {
		pr, ok := r.(*metadata.PartitionRecord)
		if !ok {
			continue
		}
		isr := unfencedOf(img, pr.Replicas)
		if len(isr) == 0 {
			panic(fmt.Sprintf("controller: invariant: partition %d placed with no active replica in %v", pr.PartitionID, pr.Replicas))
		}
		pr.ISR, pr.Leader = isr, isr[0]
	}
	return records
}

// sortedKeys lists a map's keys sorted: validation and records in a deterministic order.
func sortedKeys(configs map[string]string) []string { return slices.Sorted(maps.Keys(configs)) }

// AutoCreateRequest is the CreateTopics request for topics a Metadata request auto-creates,
// as Kafka's AutoTopicCreationManager sends it: both counts -1 (num.partitions and
// default.replication.factor), no configs.
func AutoCreateRequest(names []string) *kmsg.CreateTopicsRequest {
	req := kmsg.NewPtrCreateTopicsRequest()
	req.Version = 7
	for _, name := range names {
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, -1, -1
		req.Topics = append(req.Topics, rt)
	}
	return req
}
