#!/usr/bin/env python3
"""Second opinion on Vigil's Sigma matching: pySigma's SQLite backend over the same events.

Not run by CI. Needs `pip install pysigma pysigma-backend-sqlite` and a release build.

Loads every regression JSON twin under SIGMA/regression_data into one SQLite table (EventData
and System fields flattened, names as Sigma writes them: Provider_Name, EventID, ...), converts
each rule that has regression data with pySigma, adds the rule's log source conditions from
mappings/sigma.toml (pySigma's backend alone has none), counts the matching events per rule,
and compares with `vigil hunt --sigma` over the same JSON files. Prints every disagreement.

Usage: scripts/sigma_second_opinion.py [SIGMA_DIR]   (default ../shared/sigma)
"""
import json, os, re, sqlite3, subprocess, sys, tomllib
from collections import Counter
from pathlib import Path

from sigma.backends.sqlite import sqliteBackend
from sigma.collection import SigmaCollection

ROOT = Path(__file__).resolve().parent.parent
SIGMA = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "../shared/sigma").resolve()
RULE_DIRS = [SIGMA / d for d in ("rules", "rules-emerging-threats", "rules-threat-hunting")]


def flatten(doc):
    ev = doc.get("Event", doc)
    out = {}
    system = ev.get("System", {})
    for k, v in system.items():
        if isinstance(v, dict):
            for ak, av in v.get("#attributes", {}).items():
                out[f"{k}_{ak}"] = av
        elif v is not None:
            out[k] = v
    for section in ("EventData", "UserData"):
        data = ev.get(section) or {}
        for k, v in data.items():
            if isinstance(v, dict):  # UserData: one wrapper element
                for k2, v2 in v.items():
                    if not k2.startswith("#") and not isinstance(v2, dict):
                        out[k2] = v2
            elif v is not None:
                out[k] = v
    return {k: str(v) for k, v in out.items()}


def documents(text):
    """The JSON documents of a file (one after another, or a list)."""
    dec, i, out = json.JSONDecoder(), 0, []
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            return out
        doc, i = dec.raw_decode(text, i)
        out.extend(doc if isinstance(doc, list) else [doc])


def load_events(db):
    files = sorted((SIGMA / "regression_data").rglob("*.json"))
    rows = [flatten(doc) for f in files for doc in documents(f.read_text())]
    cols = sorted({c for r in rows for c in r})
    db.execute("CREATE TABLE logs (" + ", ".join(f'"{c}" TEXT' for c in cols) + ")")
    for r in rows:
        names = list(r)
        db.execute(f"INSERT INTO logs ({', '.join(chr(34) + n + chr(34) for n in names)}) VALUES ({', '.join('?' * len(names))})", [r[n] for n in names])
    return files, cols


def logsource_sql(ls, mapping):
    for e in mapping["logsource"]:
        if e.get("category") == ls.get("category") and e.get("service") == ls.get("service"):
            alts = []
            for src in e["sources"]:
                conds = []
                for f, v in src["when"].items():
                    vals = v if isinstance(v, list) else [v]
                    conds.append(f'"{f}" IN ({", ".join(repr(x) for x in vals)})')
                alts.append("(" + " AND ".join(conds) + ")")
            return "(" + " OR ".join(alts) + ")"
    return None


def main():
    mapping = tomllib.loads((ROOT / "mappings/sigma.toml").read_text())
    db = sqlite3.connect(":memory:")
    db.create_function("regexp", 2, lambda p, s: s is not None and re.search(p, s) is not None)
    files, cols = load_events(db)
    tested = {yaml_id(p) for p in (SIGMA / "regression_data").rglob("info.yml")}
    backend = sqliteBackend()
    theirs, problems = {}, []
    for d in RULE_DIRS:
        for path in sorted(d.rglob("*.yml")):
            text = path.read_text()
            m = re.search(r"^id:\s*(\S+)", text, re.M)
            if not m or m.group(1) not in tested:
                continue
            try:
                coll = SigmaCollection.from_yaml(text)
                rule = coll.rules[0]
                queries = backend.convert(coll)
                ls = logsource_sql({"category": rule.logsource.category, "service": rule.logsource.service}, mapping)
                n = 0
                for q in queries:
                    where = q.split(" WHERE ", 1)[1]
                    sql = f"SELECT COUNT(*) FROM logs WHERE ({where}) AND {ls}"
                    try:
                        n += db.execute(sql).fetchone()[0]
                    except sqlite3.OperationalError as e:
                        if "no such column" in str(e):  # a field no regression event has
                            continue
                        raise
                theirs[m.group(1)] = n
            except Exception as e:  # noqa: BLE001 - report every conversion failure
                problems.append((path, f"{type(e).__name__}: {e}"))
    args = [str(ROOT / "target/release/vigil"), "hunt", "--format", "jsonl"]
    for d in RULE_DIRS:
        args += ["--sigma", str(d)]
    out = subprocess.run(args + [str(f) for f in files], capture_output=True, text=True).stdout
    ours = Counter(json.loads(l)["result"].get("sigma_id") for l in out.splitlines())
    agree = [i for i in theirs if theirs[i] == ours.get(i, 0)]
    print(f"{len(theirs)} rules compared over {len(files)} regression JSON files: {len(agree)} agree")
    for i in sorted(theirs):
        if theirs[i] != ours.get(i, 0):
            print(f"  DISAGREE {i}: pySigma {theirs[i]}, Vigil {ours.get(i, 0)}")
    for p, e in problems:
        print(f"  pySigma could not convert {p.relative_to(SIGMA)}: {e}")


def yaml_id(info):
    m = re.search(r"rule_metadata:\s*\n\s*-\s*id:\s*(\S+)", info.read_text())
    return m.group(1) if m else None


if __name__ == "__main__":
    main()
