"""confluent-kafka-python (librdkafka) against a broker: AdminClient creates a topic of 1 and one
of 3 partitions, an idempotent acks=all Producer writes N records with headers, and an
assign-based Consumer reads partition 0 back from offset 0. Every result is one JSON line.

usage: confluent_client.py BOOTSTRAP TOPIC N
"""
import json
import sys
import time

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

TIMEOUT_S = 20


def emit(**fields):
    print(json.dumps(fields, sort_keys=True), flush=True)


def record(i):
    """The i-th record: the Go test builds the same."""
    headers = [("seq", str(i).encode()), ("empty", b"")] if i % 3 else []
    return "key-%d" % i, "value-%d-%s" % (i, "x" * (i % 50)), headers


def main():
    bootstrap, topic, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    common = {"bootstrap.servers": bootstrap, "socket.timeout.ms": TIMEOUT_S * 1000}

    admin = AdminClient(common)
    wide = topic + "-wide"
    futures = admin.create_topics(
        [NewTopic(topic, num_partitions=1, replication_factor=1),
         NewTopic(wide, num_partitions=3, replication_factor=1)],
        request_timeout=TIMEOUT_S, operation_timeout=TIMEOUT_S)
    for name in sorted(futures):
        futures[name].result(timeout=TIMEOUT_S)
        emit(event="created", topic=name)
    md = admin.list_topics(timeout=TIMEOUT_S)
    for name in (topic, wide):
        t = md.topics.get(name)
        if t is None:
            emit(event="listed", topic=name, partitions=-1, error="missing")
            continue
        emit(event="listed", topic=name, partitions=len(t.partitions),
             error=str(t.error) if t.error else "")

    producer = Producer(dict(common, **{
        "acks": "all", "enable.idempotence": True, "message.timeout.ms": TIMEOUT_S * 1000,
        "linger.ms": 5}))
    delivered = []

    def on_delivery(err, msg):
        delivered.append(dict(event="delivered", key=msg.key().decode(),
                              partition=msg.partition(), offset=msg.offset(),
                              error=str(err) if err else ""))

    for i in range(n):
        key, value, headers = record(i)
        producer.produce(topic, key=key, value=value, headers=headers, partition=0,
                         on_delivery=on_delivery)
        producer.poll(0)
    left = producer.flush(TIMEOUT_S)
    for d in delivered:
        emit(**d)
    emit(event="flushed", left=left)

    # group.id is required by the Consumer even with assign; nothing is ever committed.
    consumer = Consumer(dict(common, **{
        "group.id": "weir-e2e-unused", "enable.auto.commit": False,
        "enable.auto.offset.store": False, "auto.offset.reset": "error",
        "fetch.wait.max.ms": 100}))
    consumer.assign([TopicPartition(topic, 0, 0)])
    got = 0
    deadline = time.monotonic() + TIMEOUT_S
    while got < n and time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is None:
            continue
        if msg.error():
            emit(event="consume_error", error=str(msg.error()))
            continue
        emit(event="consumed", key=msg.key().decode(), value=msg.value().decode(),
             headers=[[k, (v or b"").decode()] for k, v in (msg.headers() or [])],
             partition=msg.partition(), offset=msg.offset())
        got += 1
    consumer.close()
    emit(event="done", consumed=got)


if __name__ == "__main__":
    try:
        main()
    except KafkaException as e:
        emit(event="fatal", error=str(e))
        sys.exit(1)
