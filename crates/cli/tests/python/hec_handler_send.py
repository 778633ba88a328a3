"""Sends events to a HEC with a Python logging handler from PyPI (splunk-hec-handler), as an
application logging through it would: one logger call per event, the event's own time put in
the envelope (the handler's `fields: {"time": ...}` hook), as a user forwarding old events must
(HEC's envelope time wins over the event's; without it the handler sends the log record's time).

usage: python hec_handler_send.py PORT TOKEN EVENTS.json
  EVENTS.json: [{"time": epoch seconds, "sourcetype": "..." or null, "event": object}]
The handler raises on an HTTP error answer, so any refusal fails the script.
"""
import json
import logging
import sys

from splunk_hec_handler import SplunkHecHandler

port, token, path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
with open(path, encoding="utf-8") as f:
    events = json.load(f)

log = logging.getLogger("vigil-client-test")
log.setLevel(logging.INFO)
log.propagate = False
handlers = {}
for e in events:
    if not isinstance(e["event"], dict):
        sys.exit("this handler sends dict events only (strings become {'message': ...})")
    st = e.get("sourcetype")
    if st not in handlers:
        # empty_body: the event as given, without the handler's log_level key.
        handlers[st] = SplunkHecHandler("127.0.0.1", token, port=port, proto="http", sourcetype=st, empty_body=True)
    for h in log.handlers[:]:
        log.removeHandler(h)
    log.addHandler(handlers[st])
    log.info(dict(e["event"], fields={"time": e["time"]}))
print(f"sent {len(events)} event(s)")
