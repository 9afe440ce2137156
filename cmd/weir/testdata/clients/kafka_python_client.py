"""kafka-python against a broker: KafkaAdminClient creates a topic of 1 and one of 3
partitions, a KafkaProducer (acks='all') writes N records with headers, and a KafkaConsumer
without a group (assign, seek_to_beginning) reads partition 0 back. Every result is one JSON line.

usage: kafka_python_client.py BOOTSTRAP TOPIC N
"""
import json
import sys
import time

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic

TIMEOUT_S = 20


def emit(**fields):
    print(json.dumps(fields, sort_keys=True), flush=True)


def record(i):
    """The i-th record: the Go test builds the same."""
    headers = [("seq", str(i).encode()), ("empty", b"")] if i % 3 else []
    return "key-%d" % i, "value-%d-%s" % (i, "x" * (i % 50)), headers


def main():
    bootstrap, topic, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    wide = topic + "-wide"

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=TIMEOUT_S * 1000)
    admin.create_topics([NewTopic(topic, 1, 1), NewTopic(wide, 3, 1)],
                        timeout_ms=TIMEOUT_S * 1000)
    for name in (topic, wide):
        emit(event="created", topic=name)
    for d in admin.describe_topics([topic, wide]):
        emit(event="listed", topic=d["topic"], partitions=len(d["partitions"]),
             error=str(d["error_code"]) if d["error_code"] else "")
    admin.close()

    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all",
                             request_timeout_ms=TIMEOUT_S * 1000, max_block_ms=TIMEOUT_S * 1000)
    futures = []
    for i in range(n):
        key, value, headers = record(i)
        futures.append((key, producer.send(topic, key=key.encode(), value=value.encode(),
                                           headers=headers, partition=0)))
    producer.flush(timeout=TIMEOUT_S)
    for key, f in futures:
        md = f.get(timeout=TIMEOUT_S)
        emit(event="delivered", key=key, partition=md.partition, offset=md.offset, error="")
    producer.close(timeout=TIMEOUT_S)

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                             enable_auto_commit=False, request_timeout_ms=TIMEOUT_S * 1000,
                             fetch_max_wait_ms=100)
    tp = TopicPartition(topic, 0)
    consumer.assign([tp])
    consumer.seek_to_beginning(tp)
    got = 0
    deadline = time.monotonic() + TIMEOUT_S
    while got < n and time.monotonic() < deadline:
        for _, msgs in sorted(consumer.poll(timeout_ms=500).items()):
            for msg in msgs:
                emit(event="consumed", key=msg.key.decode(), value=msg.value.decode(),
                     headers=[[k, v.decode()] for k, v in msg.headers],
                     partition=msg.partition, offset=msg.offset)
                got += 1
    consumer.close()
    emit(event="done", consumed=got)


if __name__ == "__main__":
    main()
