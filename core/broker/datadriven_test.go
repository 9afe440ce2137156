package broker

import (
	"errors"
	"strconv"
	"testing"

	"github.com/cockroachdb/datadriven"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weirdata/weir/core/config"
	"github.com/weirdata/weir/core/record"
)

// TestNode runs the scripts in testdata/. Each script starts with `start`; commands send
// requests (built with kmsg, sent through core/wire), run held syncs, move the clocks or
// close connections, and print every effect the Node returns:
//
//	start [auto-create=false] [num-partitions=N] [replication=N] [max-message-bytes=N]
//	api-versions [conn=1] [version=4] [software=name] [software-version=v]
//	metadata [conn=1] [version=12] [topics=(a,b)] [no-auto-create] [all]
//	create-topics [conn=1] [version=7] topics=(a,b) [partitions=N] [replication=N]
//	    [config=(k=v,...)] [validate-only] [timeout=ms]
//	produce [conn=1] [version=11] topic=a [partition=N] [acks=-1] [records=N] [value-bytes=N]
//	    [timestamp=ms] [timeout=ms] [corrupt] [producer-id=N [epoch=0] [seq=0]]
//	init-producer-id [conn=1] [version=5] [transactional-id=x|empty] [producer-id=N] [epoch=N]
//	restart [clean]           crash the memfs (unsynced data lost) and open a new node on it;
//	                          clean syncs and writes producer snapshots and checkpoints first
//	fetch [conn=1] [version=16] topic=a [partition=N] [offset=N] [max-wait=ms] [min-bytes=N]
//	    [max-bytes=N] [partition-max-bytes=N] [session=N] [leader-epoch=N]
//	list-offsets [conn=1] [version=10] topic=a [partition=N] timestamp=N
//	sync [ids=(1,2)] [fail]   run held syncs (all by default); `sync-all` until none is left
//	advance ms=N              move both clocks, firing Timer at the Node's deadline
//	close conn=N
//	drain                     begin a clean shutdown (Node.Drain)
func TestNode(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		var h *harness
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			if d.Cmd != "start" && h == nil {
				t.Fatalf("%s: start first", d.Pos)
			}
			if h != nil {
				h.t = t
			}
			switch d.Cmd {
			case "start":
				h = newHarness(t, func(b *config.BrokerConfig) {
					if d.HasArg("auto-create") {
						var v bool
						d.ScanArgs(t, "auto-create", &v)
						b.AutoCreateTopicsEnable = v
					}
					scanInt32(t, d, "num-partitions", &b.NumPartitions)
					var rf int32 = int32(b.DefaultReplicationFactor)
					scanInt32(t, d, "replication", &rf)
					b.DefaultReplicationFactor = int16(rf)
					scanInt32(t, d, "max-message-bytes", &b.MessageMaxBytes)
				})
			case "api-versions":
				req := kmsg.NewPtrApiVersionsRequest()
				req.ClientSoftwareName, req.ClientSoftwareVersion = "weir-test", "1.0"
				if d.HasArg("software") {
					d.ScanArgs(t, "software", &req.ClientSoftwareName)
				}
				if d.HasArg("software-version") {
					d.ScanArgs(t, "software-version", &req.ClientSoftwareVersion)
				}
				h.request(connArg(t, d), version(t, d, 4), req)
			case "metadata":
				req := kmsg.NewPtrMetadataRequest()
				req.AllowAutoTopicCreation = !d.HasArg("no-auto-create")
				if !d.HasArg("all") {
					req.Topics = []kmsg.MetadataRequestTopic{}
					for _, name := range argList(d, "topics") {
						rt := kmsg.NewMetadataRequestTopic()
						rt.Topic = strp(name)
						req.Topics = append(req.Topics, rt)
					}
				}
				h.request(connArg(t, d), version(t, d, 12), req)
			case "create-topics":
				req := kmsg.NewPtrCreateTopicsRequest()
				req.TimeoutMillis = 30000
				scanInt32(t, d, "timeout", &req.TimeoutMillis)
				req.ValidateOnly = d.HasArg("validate-only")
				partitions, rf := int32(-1), int32(-1)
				scanInt32(t, d, "partitions", &partitions)
				scanInt32(t, d, "replication", &rf)
				for _, name := range argList(d, "topics") {
					rt := kmsg.NewCreateTopicsRequestTopic()
					rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, partitions, int16(rf)
					for _, kv := range argList(d, "config") {
						k, v, _ := cut(kv)
						c := kmsg.NewCreateTopicsRequestTopicConfig()
						c.Name, c.Value = k, strp(v)
						rt.Configs = append(rt.Configs, c)
					}
					req.Topics = append(req.Topics, rt)
				}
				h.request(connArg(t, d), version(t, d, 7), req)
			case "produce":
				req := kmsg.NewPtrProduceRequest()
				req.Acks, req.TimeoutMillis = -1, 30000
				var acks int32 = -1
				scanInt32(t, d, "acks", &acks)
				req.Acks = int16(acks)
				scanInt32(t, d, "timeout", &req.TimeoutMillis)
				var count, valueBytes int32 = 1, 10
				scanInt32(t, d, "records", &count)
				scanInt32(t, d, "value-bytes", &valueBytes)
				ts := h.now.WallMs
				if d.HasArg("timestamp") {
					d.ScanArgs(t, "timestamp", &ts)
				}
				var producerID int64 = -1
				var epoch, seq int32 = -1, -1
				if d.HasArg("producer-id") {
					d.ScanArgs(t, "producer-id", &producerID)
					epoch, seq = 0, 0
				}
				scanInt32(t, d, "epoch", &epoch)
				scanInt32(t, d, "seq", &seq)
				batch := makeProducerBatch(t, int(count), int(valueBytes), ts, record.CodecNone, producerID, int16(epoch), seq)
				if d.HasArg("corrupt") {
					batch[len(batch)-1] ^= 0xff
				}
				rt := kmsg.NewProduceRequestTopic()
				d.ScanArgs(t, "topic", &rt.Topic)
				rp := kmsg.NewProduceRequestTopicPartition()
				scanInt32(t, d, "partition", &rp.Partition)
				rp.Records = batch
				rt.Partitions = append(rt.Partitions, rp)
				req.Topics = append(req.Topics, rt)
				h.request(connArg(t, d), version(t, d, 11), req)
			case "fetch":
				req := kmsg.NewPtrFetchRequest()
				req.MaxWaitMillis, req.MinBytes, req.MaxBytes = 0, 1, 50<<20
				req.SessionEpoch = -1
				scanInt32(t, d, "max-wait", &req.MaxWaitMillis)
				scanInt32(t, d, "min-bytes", &req.MinBytes)
				scanInt32(t, d, "max-bytes", &req.MaxBytes)
				scanInt32(t, d, "session", &req.SessionID)
				rt := kmsg.NewFetchRequestTopic()
				d.ScanArgs(t, "topic", &rt.Topic)
				if tp, ok := h.image().TopicByName(rt.Topic); ok {
					rt.TopicID = tp.ID
				}
				for _, p := range intList(t, d, "partition") {
					rp := kmsg.NewFetchRequestTopicPartition()
					rp.Partition = p
					rp.PartitionMaxBytes = 1 << 20
					scanInt32(t, d, "partition-max-bytes", &rp.PartitionMaxBytes)
					scanInt32(t, d, "leader-epoch", &rp.CurrentLeaderEpoch)
					if d.HasArg("offset") {
						d.ScanArgs(t, "offset", &rp.FetchOffset)
					}
					rt.Partitions = append(rt.Partitions, rp)
				}
				req.Topics = append(req.Topics, rt)
				h.request(connArg(t, d), version(t, d, 16), req)
			case "list-offsets":
				req := kmsg.NewPtrListOffsetsRequest()
				rt := kmsg.NewListOffsetsRequestTopic()
				d.ScanArgs(t, "topic", &rt.Topic)
				rp := kmsg.NewListOffsetsRequestTopicPartition()
				scanInt32(t, d, "partition", &rp.Partition)
				d.ScanArgs(t, "timestamp", &rp.Timestamp)
				rt.Partitions = append(rt.Partitions, rp)
				req.Topics = append(req.Topics, rt)
				h.request(connArg(t, d), version(t, d, 10), req)
			case "delete-topics":
				req := kmsg.NewPtrDeleteTopicsRequest()
				req.TimeoutMillis = 30000
				v := version(t, d, 6)
				for _, name := range argList(d, "topics") {
					if v < 6 {
						req.TopicNames = append(req.TopicNames, name)
						continue
					}
					rt := kmsg.NewDeleteTopicsRequestTopic()
					rt.Topic = strp(name)
					req.Topics = append(req.Topics, rt)
				}
				h.request(connArg(t, d), v, req)
			case "create-partitions":
				req := kmsg.NewPtrCreatePartitionsRequest()
				req.TimeoutMillis = 30000
				req.ValidateOnly = d.HasArg("validate-only")
				rt := kmsg.NewCreatePartitionsRequestTopic()
				d.ScanArgs(t, "topic", &rt.Topic)
				scanInt32(t, d, "count", &rt.Count)
				req.Topics = append(req.Topics, rt)
				h.request(connArg(t, d), version(t, d, 3), req)
			case "describe-configs":
				req := kmsg.NewPtrDescribeConfigsRequest()
				req.IncludeSynonyms = d.HasArg("synonyms")
				rr := kmsg.NewDescribeConfigsRequestResource()
				rr.ResourceType = resourceTypeTopic
				if d.HasArg("broker") {
					rr.ResourceType = resourceTypeBroker
					d.ScanArgs(t, "broker", &rr.ResourceName)
				} else {
					d.ScanArgs(t, "topic", &rr.ResourceName)
				}
				rr.ConfigNames = argList(d, "keys")
				req.Resources = append(req.Resources, rr)
				h.request(connArg(t, d), version(t, d, 4), req)
			case "alter-configs":
				req := kmsg.NewPtrIncrementalAlterConfigsRequest()
				req.ValidateOnly = d.HasArg("validate-only")
				rr := kmsg.NewIncrementalAlterConfigsRequestResource()
				if d.HasArg("broker") {
					rr.ResourceType = resourceTypeBroker
					d.ScanArgs(t, "broker", &rr.ResourceName)
				} else {
					rr.ResourceType = resourceTypeTopic
					d.ScanArgs(t, "topic", &rr.ResourceName)
				}
				for _, kv := range argList(d, "set") {
					k, v, _ := cut(kv)
					c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
					c.Name, c.Op, c.Value = k, kmsg.IncrementalAlterConfigOpSet, strp(v)
					rr.Configs = append(rr.Configs, c)
				}
				for _, kv := range argList(d, "append") {
					k, v, _ := cut(kv)
					c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
					c.Name, c.Op, c.Value = k, kmsg.IncrementalAlterConfigOpAppend, strp(v)
					rr.Configs = append(rr.Configs, c)
				}
				for _, k := range argList(d, "delete") {
					c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
					c.Name, c.Op = k, kmsg.IncrementalAlterConfigOpDelete
					rr.Configs = append(rr.Configs, c)
				}
				req.Resources = append(req.Resources, rr)
				h.request(connArg(t, d), version(t, d, 1), req)
			case "describe-cluster":
				req := kmsg.NewPtrDescribeClusterRequest()
				req.EndpointType = 1
				var et int32 = 1
				scanInt32(t, d, "endpoint-type", &et)
				req.EndpointType = int8(et)
				h.request(connArg(t, d), version(t, d, 1), req)
			case "delete-records":
				req := kmsg.NewPtrDeleteRecordsRequest()
				rt := kmsg.NewDeleteRecordsRequestTopic()
				d.ScanArgs(t, "topic", &rt.Topic)
				rp := kmsg.NewDeleteRecordsRequestTopicPartition()
				scanInt32(t, d, "partition", &rp.Partition)
				d.ScanArgs(t, "offset", &rp.Offset)
				rt.Partitions = append(rt.Partitions, rp)
				req.Topics = append(req.Topics, rt)
				h.request(connArg(t, d), version(t, d, 2), req)
			case "offset-for-leader-epoch":
				req := kmsg.NewPtrOffsetForLeaderEpochRequest()
				req.ReplicaID = -1
				rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
				d.ScanArgs(t, "topic", &rt.Topic)
				rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
				scanInt32(t, d, "partition", &rp.Partition)
				scanInt32(t, d, "epoch", &rp.LeaderEpoch)
				rt.Partitions = append(rt.Partitions, rp)
				req.Topics = append(req.Topics, rt)
				h.request(connArg(t, d), version(t, d, 4), req)
			case "init-producer-id":
				req := kmsg.NewPtrInitProducerIDRequest()
				req.TransactionTimeoutMillis = 60000
				if d.HasArg("transactional-id") {
					var id string
					d.ScanArgs(t, "transactional-id", &id)
					if id == "empty" {
						id = ""
					}
					req.TransactionalID = &id
				}
				if d.HasArg("producer-id") {
					d.ScanArgs(t, "producer-id", &req.ProducerID)
				}
				var epoch int32 = -1
				scanInt32(t, d, "epoch", &epoch)
				req.ProducerEpoch = int16(epoch)
				h.request(connArg(t, d), version(t, d, 5), req)
			case "restart":
				h = h.restart(d.HasArg("clean"))
			case "sync":
				var ids []SyncID
				for _, id := range intList(t, d, "ids") {
					ids = append(ids, SyncID(id))
				}
				var failWith error
				if d.HasArg("fail") {
					failWith = errors.New("injected EIO")
				}
				h.runSyncs(ids, failWith)
			case "hold-controller":
				// The controller stops answering: the broker's requests to it are held.
				h.holdController = true
			case "release-controller":
				h.holdController = false
				held := h.heldSends
				h.heldSends = nil
				h.routeSends(held)
			case "sync-all":
				h.syncAll()
			case "advance":
				var ms int64
				d.ScanArgs(t, "ms", &ms)
				h.advance(ms)
			case "close":
				h.record(h.node.ConnClosed(h.now, connArg(t, d)))
			case "drain":
				h.record(h.node.Drain(h.now))
			default:
				t.Fatalf("%s: unknown command %q", d.Pos, d.Cmd)
			}
			return h.take()
		})
	})
}

func connArg(t *testing.T, d *datadriven.TestData) ConnID {
	var c int32 = 1
	scanInt32(t, d, "conn", &c)
	return ConnID(c)
}

func version(t *testing.T, d *datadriven.TestData, def int16) int16 {
	v := int32(def)
	scanInt32(t, d, "version", &v)
	return int16(v)
}

func scanInt32(t *testing.T, d *datadriven.TestData, key string, dst *int32) {
	if !d.HasArg(key) {
		return
	}
	arg, _ := d.Arg(key)
	v, err := strconv.ParseInt(arg.Vals[0], 10, 32)
	if err != nil {
		t.Fatalf("%s: %s: %v", d.Pos, key, err)
	}
	*dst = int32(v)
}

func argList(d *datadriven.TestData, key string) []string {
	arg, ok := d.Arg(key)
	if !ok {
		return nil
	}
	var vals []string
	for _, v := range arg.Vals {
		if v != "" { // "()" is the empty list
			vals = append(vals, v)
		}
	}
	return vals
}

func intList(t *testing.T, d *datadriven.TestData, key string) []int32 {
	vals := argList(d, key)
	if vals == nil && key == "partition" {
		return []int32{0}
	}
	out := make([]int32, 0, len(vals))
	for _, s := range vals {
		v, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			t.Fatalf("%s: %s: %v", d.Pos, key, err)
		}
		out = append(out, int32(v))
	}
	return out
}

func cut(kv string) (string, string, bool) {
	for i := range len(kv) {
		if kv[i] == '=' {
			return kv[:i], kv[i+1:], true
		}
	}
	return kv, "", false
}
