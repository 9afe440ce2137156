package main

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/compress"
)

// goClientRecordCount is how many records the sarama and kafka-go tests produce and read back.
const goClientRecordCount = 60

// goClientRecord is one record as the Go client tests compare them.
type goClientRecord struct {
	offset       int64
	key, value   string
	headers      [][2]string
	partitionNum int32
}

// wantGoClientRecords are clientRecord 0..n-1 at offsets 0..n-1 of partition 0.
func wantGoClientRecords(n int) []goClientRecord {
	want := make([]goClientRecord, n)
	for i := range want {
		key, value, headers := clientRecord(i)
		want[i] = goClientRecord{offset: int64(i), key: key, value: value, headers: headers}
	}
	return want
}

func diffGoClientRecords(t *testing.T, client string, got, want []goClientRecord) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s read %d records, want %d", client, len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.offset != w.offset || g.key != w.key || g.value != w.value || g.partitionNum != w.partitionNum ||
			!slices.Equal(g.headers, w.headers) {
			t.Errorf("%s record %d: got %+v, want %+v", client, i, g, w)
		}
	}
}

// TestE2EClientsSarama: sarama's idempotent sync producer (gzip, acks=all) writes records one
// by one, each acknowledged at the offset it asked for; sarama's partition consumer reads them
// back exactly.
func TestE2EClientsSarama(t *testing.T) {
	addr := startClientBroker(t)
	const topic = "sarama"

	cfg := sarama.NewConfig()
	cfg.Version = sarama.V4_0_0_0
	cfg.ClientID = "weir-e2e-sarama"
	cfg.Producer.Idempotent = true
	cfg.Net.MaxOpenRequests = 1 // sarama's requirement for idempotence
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Retry.Max = 5
	cfg.Producer.Return.Successes = true
	cfg.Producer.Compression = sarama.CompressionGZIP
	cfg.Producer.Partitioner = sarama.NewManualPartitioner
	cfg.Consumer.Return.Errors = true
	cfg.Metadata.AllowAutoTopicCreation = false

	admin, err := sarama.NewClusterAdmin([]string{addr}, cfg)
	if err != nil {
		t.Fatalf("sarama admin: %v", err)
	}
	defer admin.Close()
	if err := admin.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 1, ReplicationFactor: 1}, false); err != nil {
		t.Fatalf("sarama CreateTopic: %v", err)
	}
	topics, err := admin.ListTopics()
	if err != nil {
		t.Fatalf("sarama ListTopics: %v", err)
	}
	if d, ok := topics[topic]; !ok || d.NumPartitions != 1 {
		t.Fatalf("sarama ListTopics: %s is %+v (listed: %v)", topic, d, ok)
	}

	producer, err := sarama.NewSyncProducer([]string{addr}, cfg)
	if err != nil {
		t.Fatalf("sarama producer: %v", err)
	}
	for i, w := range wantGoClientRecords(goClientRecordCount) {
		msg := &sarama.ProducerMessage{Topic: topic, Partition: 0, Key: sarama.StringEncoder(w.key), Value: sarama.StringEncoder(w.value)}
		for _, h := range w.headers {
			msg.Headers = append(msg.Headers, sarama.RecordHeader{Key: []byte(h[0]), Value: []byte(h[1])})
		}
		partition, offset, err := producer.SendMessage(msg)
		if err != nil {
			t.Fatalf("sarama SendMessage %d: %v", i, err)
		}
		if partition != 0 || offset != w.offset {
			t.Fatalf("sarama SendMessage %d: acknowledged at %d/%d, want 0/%d", i, partition, offset, w.offset)
		}
	}
	if err := producer.Close(); err != nil {
		t.Fatalf("sarama producer close: %v", err)
	}

	consumer, err := sarama.NewConsumer([]string{addr}, cfg)
	if err != nil {
		t.Fatalf("sarama consumer: %v", err)
	}
	defer consumer.Close()
	pc, err := consumer.ConsumePartition(topic, 0, sarama.OffsetOldest)
	if err != nil {
		t.Fatalf("sarama ConsumePartition: %v", err)
	}
	defer pc.Close()
	var got []goClientRecord
	deadline := time.After(e2eTimeout)
	for len(got) < goClientRecordCount {
		select {
		case m := <-pc.Messages():
			r := goClientRecord{offset: m.Offset, key: string(m.Key), value: string(m.Value), partitionNum: m.Partition}
			for _, h := range m.Headers {
				r.headers = append(r.headers, [2]string{string(h.Key), string(h.Value)})
			}
			got = append(got, r)
		case err := <-pc.Errors():
			t.Fatalf("sarama consumer: %v", err)
		case <-deadline:
			t.Fatalf("sarama consumer: %d of %d records after %v", len(got), goClientRecordCount, e2eTimeout)
		}
	}
	diffGoClientRecords(t, "sarama", got, wantGoClientRecords(goClientRecordCount))
	if hwm := pc.HighWaterMarkOffset(); hwm != goClientRecordCount {
		t.Errorf("sarama high watermark %d, want %d", hwm, goClientRecordCount)
	}
}

// TestE2EClientsKafkaGo: segmentio/kafka-go creates the topic, its Writer (snappy, acks=all)
// writes the records in batches, and its Reader reads them back exactly.
func TestE2EClientsKafkaGo(t *testing.T) {
	addr := startClientBroker(t)
	const topic = "kafka-go"
	ctx, cancel := context.WithTimeout(context.Background(), e2eTimeout)
	defer cancel()

	client := &kafka.Client{Addr: kafka.TCP(addr), Timeout: e2eTimeout}
	created, err := client.CreateTopics(ctx, &kafka.CreateTopicsRequest{
		Topics: []kafka.TopicConfig{{Topic: topic, NumPartitions: 1, ReplicationFactor: 1}},
	})
	if err != nil {
		t.Fatalf("kafka-go CreateTopics: %v", err)
	}
	if err := created.Errors[topic]; err != nil {
		t.Fatalf("kafka-go CreateTopics %s: %v", topic, err)
	}

	writer := &kafka.Writer{
		Addr:         kafka.TCP(addr),
		Topic:        topic,
		RequiredAcks: kafka.RequireAll,
		Compression:  compress.Snappy,
		Balancer:     &kafka.LeastBytes{}, // one partition: every message lands on 0
		BatchSize:    25,
		BatchTimeout: 10 * time.Millisecond,
	}
	want := wantGoClientRecords(goClientRecordCount)
	msgs := make([]kafka.Message, len(want))
	for i, w := range want {
		msgs[i] = kafka.Message{Key: []byte(w.key), Value: []byte(w.value)}
		for _, h := range w.headers {
			msgs[i].Headers = append(msgs[i].Headers, kafka.Header{Key: h[0], Value: []byte(h[1])})
		}
	}
	if err := writer.WriteMessages(ctx, msgs...); err != nil {
		t.Fatalf("kafka-go WriteMessages: %v", err)
	}
	if err := writer.Close(); err != nil {
		t.Fatalf("kafka-go writer close: %v", err)
	}
	if stats := writer.Stats(); stats.Errors != 0 || stats.Messages != goClientRecordCount {
		t.Fatalf("kafka-go writer stats: %d messages, %d errors", stats.Messages, stats.Errors)
	}

	reader := kafka.NewReader(kafka.ReaderConfig{
		Brokers: []string{addr}, Topic: topic, Partition: 0,
		MinBytes: 1, MaxBytes: 1 << 20, MaxWait: 200 * time.Millisecond,
	})
	defer reader.Close()
	var got []goClientRecord
	for len(got) < goClientRecordCount {
		m, err := reader.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("kafka-go ReadMessage after %d records: %v", len(got), err)
		}
		r := goClientRecord{offset: m.Offset, key: string(m.Key), value: string(m.Value), partitionNum: int32(m.Partition)}
		for _, h := range m.Headers {
			r.headers = append(r.headers, [2]string{h.Key, string(h.Value)})
		}
		got = append(got, r)
	}
	diffGoClientRecords(t, "kafka-go", got, want)
	if lag, err := reader.ReadLag(ctx); err != nil || lag != 0 {
		t.Errorf("kafka-go ReadLag = %d, %v; want 0", lag, err)
	}
}
