#!/usr/bin/env python3
"""Second opinion on Vigil's Sigma correlations: pySigma's SQLite backend over the same events.

Not run by CI. Needs `pip install pysigma pysigma-backend-sqlite` and a release build.

Loads the events of XmlWinEventLog files (System and EventData fields as columns, the event
time as `timestamp`) into one SQLite table, converts the correlation rules of RULES with
pySigma (rules without the log source conditions: pySigma's backend has none, so rule files
here must name their event ids), runs each query, and compares per correlation the groups
that fire, and when each first fires, with `vigil hunt --sigma RULES` over the same files.
The number of hits per group is not compared: pySigma's backend reports every window end
that meets the condition, Vigil one hit per window (README.md, "Correlation rules").

Usage: scripts/sigma_correlation_second_opinion.py RULES FILE.xml...
  (e.g. crates/cli/tests/data/sigma_correlation crates/cli/tests/data/synthetic/security_logon_bruteforce.xml)
"""
import json, sqlite3, subprocess, sys, xml.etree.ElementTree as ET
from datetime import datetime, timezone
from pathlib import Path

from sigma.backends.sqlite import sqliteBackend
from sigma.collection import SigmaCollection

ROOT = Path(__file__).resolve().parent.parent
NS = "{http://schemas.microsoft.com/win/2004/08/events/event}"


def events(paths):
    for p in paths:
        for line in open(p, encoding="utf-8"):
            if not line.strip():
                continue
            ev = ET.fromstring(line)
            row = {}
            system = ev.find(NS + "System")
            for child in system:
                tag = child.tag.replace(NS, "")
                if tag == "TimeCreated":
                    row["timestamp"] = child.get("SystemTime").replace("T", " ").rstrip("Z")[:23]
                elif child.text:
                    row[tag] = child.text
            for d in ev.iter(NS + "Data"):
                row[d.get("Name")] = d.text or ""
            yield row


def main():
    rules_dir, files = Path(sys.argv[1]), sys.argv[2:]
    rows = list(events(files))
    cols = sorted({k for r in rows for k in r})
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE logs (%s)" % ", ".join(f'"{c}"' for c in cols))
    # Numbers as numbers: pySigma compares `EventID=4625`, and untyped columns do not convert.
    number = lambda v: int(v) if isinstance(v, str) and v.isdigit() and len(v) < 18 else v
    for r in rows:
        db.execute("INSERT INTO logs VALUES (%s)" % ", ".join("?" * len(cols)), [number(r.get(c)) for c in cols])
    texts = [p.read_text() for p in sorted(rules_dir.glob("*.yml"))]
    collection = SigmaCollection.from_yaml("\n---\n".join(texts))
    backend = sqliteBackend()
    queries = backend.convert(collection)
    # Outermost correlations (not named by another), in the order pySigma converts them.
    named = {str(ref.reference) for r in collection.rules if hasattr(r, "rules") for ref in r.rules}
    tops = [r for r in collection.rules if hasattr(r, "rules") and str(r.id) not in named and (r.name or "") not in named]
    pysigma = {}
    for rule, query in zip(tops, queries[-len(tops):]):
        cur = db.execute(query)
        names = [d[0] for d in cur.description]
        groups = {}
        for values in cur.fetchall():
            row = dict(zip(names, values))
            keys = json.loads(row["group_keys"] or "{}")
            key = tuple(str(keys.get(g, "")).lower() for g in rule.group_by)
            # The earliest time a window of the group met the condition.
            groups[key] = min(groups.get(key, float("inf")), round(float(row["occurrence_time"]), 3))
        pysigma[rule.title] = groups
    out = subprocess.run([str(ROOT / "target/release/vigil"), "hunt", "--sigma", str(rules_dir), "--format", "jsonl", *files],
                         capture_output=True, text=True, check=True).stdout
    vigil = {}
    by_title = {r.title: r for r in tops}
    for line in out.splitlines():
        rec = json.loads(line)
        rule = by_title.get(rec["detection"])
        if rule is None:
            continue
        key = tuple(str(rec["result"].get(g, "")).lower() for g in rule.group_by)
        t = round(datetime.fromisoformat(rec["result"]["_time"]).timestamp(), 3)
        groups = vigil.setdefault(rule.title, {})
        groups[key] = min(groups.get(key, float("inf")), t)
    agree = 0
    for title in sorted(pysigma):
        p, v = pysigma[title], vigil.get(title, set())
        same = p == v
        agree += same
        show = lambda g: ", ".join(f"{'/'.join(k)} at {datetime.fromtimestamp(t, timezone.utc):%H:%M:%S}" for k, t in sorted(g.items()))
        print(f"{'agree   ' if same else 'DISAGREE'} {title}: pySigma [{show(p)}], Vigil [{show(v)}]")
    print(f"{len(pysigma)} correlations compared (groups that fire, and when each first fires): {agree} agree")


if __name__ == "__main__":
    main()
