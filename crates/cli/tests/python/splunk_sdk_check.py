"""Drives a Vigil server with the official Splunk Python SDK (PyPI splunk-sdk), as an existing
script would drive Splunk: client.connect (session login), jobs.export and jobs.oneshot with
JSON output, then Basic and Bearer authentication. Prints one JSON document for the Rust test.

usage: splunk_sdk_check.py PORT USER PASSWORD BEARER_TOKEN SEARCH EARLIEST LATEST
"""
import json
import sys

import splunklib.client as client
import splunklib.results as results

port, user, password, bearer, search, earliest, latest = sys.argv[1:8]
port = int(port)


def rows(stream):
    out, messages = [], []
    for r in results.JSONResultsReader(stream):
        if isinstance(r, dict):
            out.append(r)
        else:
            messages.append(str(r))
    return out, messages


report = {}
service = client.connect(host="127.0.0.1", port=port, scheme="http", username=user, password=password)
report["version"] = list(service.splunk_version)
report["token_scheme"] = service.token.split(" ")[0]
exported, messages = rows(service.jobs.export(search, earliest_time=earliest, latest_time=latest, output_mode="json"))
report["export"] = exported
report["export_messages"] = messages
oneshot, _ = rows(service.jobs.oneshot(search, earliest_time=earliest, latest_time=latest, output_mode="json", count=0))
report["oneshot"] = oneshot

basic = client.connect(host="127.0.0.1", port=port, scheme="http", username=user, password=password, basic=True)
report["basic_export"] = len(rows(basic.jobs.export(search, earliest_time=earliest, latest_time=latest, output_mode="json"))[0])
token = client.connect(host="127.0.0.1", port=port, scheme="http", splunkToken=bearer)
report["bearer_oneshot"] = len(rows(token.jobs.oneshot(search, earliest_time=earliest, latest_time=latest, output_mode="json", count=0))[0])

try:
    client.connect(host="127.0.0.1", port=port, scheme="http", username=user, password="not-the-password")
    report["bad_login"] = "accepted"
except Exception as e:  # splunklib raises AuthenticationError
    report["bad_login"] = type(e).__name__

print(json.dumps(report))
