"""Writes events into a Kafka topic with kafka-python (a standard client nobody here wrote),
for the cluster's end-to-end tests and bench/cluster.sh.

    kafka_produce.py BROKERS TOPIC PARTITIONS lines TIMESTAMP_MS FILE...
        every non-empty line of the files, key = the file's path, stamped TIMESTAMP_MS
    kafka_produce.py BROKERS TOPIC PARTITIONS heartbeat TIMESTAMP_MS
        one record that is no event into every partition, stamped TIMESTAMP_MS
    kafka_produce.py BROKERS TOPIC PARTITIONS xml FILE [START [END]]
        events START..END of an XmlWinEventLog file (one record per <Event>, which may span
        lines), key = <Computer> (a host's events stay in order in one partition), each stamped
        with its own SystemTime (it arrives when it happened)

The topic is created with PARTITIONS partitions unless it exists. Prints the records sent.
With PRODUCE_RATE in the environment (records per second), records are paced to about that rate
(events trickling in, for a consumer measured while it keeps up).
"""

import calendar
import os
import re
import sys
import time
from datetime import datetime

from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

EVENT = re.compile(rb"<Event[ >].*?</Event>", re.S)
SYSTEM_TIME = re.compile(rb"SystemTime='(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{3}))?")
COMPUTER = re.compile(rb"<Computer>([^<]*)</Computer>")


def xml_records(path, start, end):
    events = EVENT.findall(open(path, "rb").read())
    for event in events[start:end]:
        t, frac = SYSTEM_TIME.search(event).groups()
        ms = calendar.timegm(datetime.strptime(t.decode(), "%Y-%m-%dT%H:%M:%S").timetuple()) * 1000 + int(frac or b"0")
        yield COMPUTER.search(event).group(1), event, ms, None


def main(argv):
    brokers, topic, partitions, mode = argv[1], argv[2], int(argv[3]), argv[4]
    try:
        KafkaAdminClient(bootstrap_servers=brokers).create_topics([NewTopic(topic, partitions, 1)])
    except TopicAlreadyExistsError:
        pass
    if mode == "lines":
        ts = int(argv[5])
        records = ((path.encode(), line.rstrip(b"\r\n"), ts, None) for path in argv[6:] for line in open(path, "rb") if line.strip())
    elif mode == "heartbeat":
        records = ((None, b"heartbeat", int(argv[5]), part) for part in range(partitions))
    elif mode == "xml":
        start = int(argv[6]) if len(argv) > 6 else 0
        end = int(argv[7]) if len(argv) > 7 else None
        records = xml_records(argv[5], start, end)
    else:
        sys.exit(f"unknown mode {mode}")
    producer = KafkaProducer(bootstrap_servers=brokers, acks="all", linger_ms=5)
    rate = float(os.environ.get("PRODUCE_RATE", "0"))
    began = time.monotonic()
    n = 0
    for key, value, ts, partition in records:
        producer.send(topic, key=key, value=value, timestamp_ms=ts, partition=partition)
        n += 1
        if rate > 0:
            ahead = n / rate - (time.monotonic() - began)
            if ahead > 0:
                time.sleep(ahead)
    producer.flush()
    print(n)


if __name__ == "__main__":
    main(sys.argv)
