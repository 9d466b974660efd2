"""kafka-python (Debian's python3-kafka) against chronik-server, every client
with its default settings: no api_version, so each client runs its own
version probe first (ApiVersions, then Metadata v0 on the same connection).

Driven by TestKafkaPython (kafka_python_test.go), one step per process so
that a consumer "restarts" between steps and the Go side can kill brokers in
between. Every step prints one JSON object on stdout; diagnostics go to
stderr.

    kafka_python_compat.py BOOTSTRAP admin TOPIC PARTITIONS
    kafka_python_compat.py BOOTSTRAP produce TOPIC FIRST COUNT [PACE_MS]
    kafka_python_compat.py BOOTSTRAP group TOPIC GROUP COUNT
    kafka_python_compat.py BOOTSTRAP read TOPIC
"""

import json
import sys
import time

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

# Bounds on every wait, so a broken broker fails the step instead of
# hanging the test (the Go side bounds the process too).
STEP_SECONDS = 60


def admin(bootstrap, topic, partitions):
    adm = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        adm.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
        try:
            adm.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
            again = "created twice"
        except TopicAlreadyExistsError:
            again = "TOPIC_ALREADY_EXISTS"
        # The new topic is visible once every node applied its creation.
        deadline = time.time() + STEP_SECONDS
        while topic not in adm.list_topics():
            if time.time() > deadline:
                raise SystemExit("created topic never listed")
            time.sleep(0.1)
        described = adm.describe_topics([topic])
        return {
            "listed": True,
            "again": again,
            "described": [
                {"topic": d["topic"], "error": d["error_code"], "partitions": len(d["partitions"])}
                for d in described
            ],
            "probed": ".".join(map(str, adm.config["api_version"])),
        }
    finally:
        adm.close()


def produce(bootstrap, topic, first, count, pace_ms=0):
    # acks=all; everything else is kafka-python's default (retries=0: a
    # send the broker refuses is reported as failed, never retried). With
    # a pace the sends are spread out, so that a broker can be killed in
    # the middle. Each acknowledgement carries its wall-clock time.
    prod = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    acked, failed = [], []

    def on_ack(v):
        return lambda md: acked.append([v, md.partition, md.offset, time.time()])

    def on_fail(v):
        return lambda e: failed.append([v, type(e).__name__])

    try:
        for v in range(first, first + count):
            prod.send(topic, value=str(v).encode()).add_callback(on_ack(v)).add_errback(on_fail(v))
            if pace_ms:
                time.sleep(pace_ms / 1000)
        prod.flush(timeout=STEP_SECONDS)
        return {"acked": acked, "failed": failed, "probed": ".".join(map(str, prod.config["api_version"]))}
    finally:
        prod.close(timeout=10)


def group(bootstrap, topic, group_id, count):
    # A consumer group member that reads count records, commits them and
    # leaves; the next member of the group must start at the commits.
    cons = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group_id,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    got = []
    try:
        deadline = time.time() + STEP_SECONDS
        while len(got) < count and time.time() < deadline:
            for tp, msgs in cons.poll(timeout_ms=500).items():
                got.extend([int(m.value), m.partition, m.offset] for m in msgs)
        cons.commit()
        committed = {}
        for p in cons.partitions_for_topic(topic) or ():
            committed[str(p)] = cons.committed(TopicPartition(topic, p))
        return {"records": got, "committed": committed}
    finally:
        cons.close()


def read(bootstrap, topic):
    # Every record of every partition, from the start to the end offsets.
    cons = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        deadline = time.time() + STEP_SECONDS
        parts = None
        while not parts and time.time() < deadline:
            parts = cons.partitions_for_topic(topic)
            if not parts:
                time.sleep(0.2)
        tps = [TopicPartition(topic, p) for p in sorted(parts or ())]
        cons.assign(tps)
        cons.seek_to_beginning(*tps)
        ends = cons.end_offsets(tps)
        got = []
        while any(cons.position(tp) < ends[tp] for tp in tps) and time.time() < deadline:
            for tp, msgs in cons.poll(timeout_ms=500).items():
                got.extend([int(m.value), m.partition, m.offset] for m in msgs)
        return {"records": got, "ends": {str(tp.partition): ends[tp] for tp in tps}}
    finally:
        cons.close()


def main(argv):
    bootstrap, step, args = argv[1].split(","), argv[2], argv[3:]
    if step == "admin":
        out = admin(bootstrap, args[0], int(args[1]))
    elif step == "produce":
        out = produce(bootstrap, args[0], int(args[1]), int(args[2]), int(args[3]) if len(args) > 3 else 0)
    elif step == "group":
        out = group(bootstrap, args[0], args[1], int(args[2]))
    elif step == "read":
        out = read(bootstrap, args[0])
    else:
        raise SystemExit("unknown step " + step)
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main(sys.argv)
