#!/usr/bin/env bash
# Builds the seed corpora in fuzz/corpus/<target>/ (gitignored) from the real logs in
# ../shared/data/real and the ESCU content in ../shared/escu, plus a few hand-written seeds.
# Missing data is skipped with a note. Re-running adds to what is there (libFuzzer dedups).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
shared="${VIGIL_SHARED:-$here/../../shared}"
real="$shared/data/real"
escu="$shared/escu"
corpus="$here/corpus"
mkdir -p "$corpus"/{read_xml,xml_diff,read_evtx,read_json,spl_parse,spl_macros,eval_expr,time_parse,cron,content_yaml,scan_state}

[ -d "$real" ] || echo "note: $real missing; reader corpora get hand-written seeds only" >&2
[ -d "$escu" ] || echo "note: $escu missing; SPL/content corpora get hand-written seeds only" >&2

python3 - "$real" "$escu" "$corpus" <<'PY'
import glob, hashlib, os, re, sys
real, escu, corpus = sys.argv[1:4]

def put(target, data):
    if isinstance(data, str):
        data = data.encode()
    if not data:
        return
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(corpus, target, name), "wb") as f:
        f.write(data)

# --- readers: single records and small groups of lines keep inputs short for libFuzzer.
for path in sorted(glob.glob(os.path.join(real, "xmlwineventlog", "*"))):
    lines = open(path, "rb").read().splitlines(keepends=True)
    for i, line in enumerate(lines[:40]):
        put("read_xml", line)
        put("xml_diff", line.strip())
    put("read_xml", b"".join(lines[:3]))
for path in sorted(glob.glob(os.path.join(real, "json", "*.json"))):
    data = open(path, "rb").read()
    for line in data.splitlines(keepends=True)[:40]:
        put("read_json", b"\0" + line)
    put("read_json", b"\0" + data[:16384])
# Archives: a zip from the real data and a gzip of an XML line reach the archive readers.
import gzip
for path in sorted(glob.glob(os.path.join(real, "json", "*.zip"))):
    data = open(path, "rb").read()
    if len(data) < 65536:
        put("read_json", b"\0" + data)
xml = sorted(glob.glob(os.path.join(real, "xmlwineventlog", "*")))
if xml:
    put("read_xml", gzip.compress(open(xml[0], "rb").read().splitlines(keepends=True)[0]))
# EVTX: the file header plus the first chunk (69632 bytes) of each file; small files whole.
evtx = sorted(glob.glob(os.path.join(real, "evtx", "*.evtx")))
evtx += sorted(glob.glob(os.path.join(real, "evtx-attack-samples", "**", "*.evtx"), recursive=True))[:12]
for path in evtx:
    put("read_evtx", open(path, "rb").read()[:69632])

# --- SPL from ESCU detections (plain-text scan of `search:` blocks, no YAML dependency).
def searches():
    files = sorted(glob.glob(os.path.join(escu, "detections", "**", "*.yml"), recursive=True))
    files += sorted(glob.glob(os.path.join(escu, "newer_format", "**", "*.yml"), recursive=True))
    for path in files:
        text = open(path, encoding="utf-8", errors="replace").read()
        m = re.search(r"^search:\s*(\|-|\||>-|>)?\s*\n?(.*?)(?=^\w[\w_]*:)", text, re.S | re.M)
        if not m:
            continue
        body = m.group(2)
        if m.group(1):
            body = "\n".join(l[2:] if l.startswith("  ") else l for l in body.splitlines())
        else:
            body = " ".join(l.strip() for l in body.splitlines())
            if body.startswith(("'", '"')) and body.endswith(body[0]):
                body = body[1:-1]
        yield path, body.strip()

evals, wheres = set(), set()
for i, (path, s) in enumerate(searches()):
    if i % 3 == 0 or "eval" in s:
        put("spl_parse", s)
        put("spl_macros", s)
    for cmd in re.split(r"\|", s):
        cmd = cmd.strip()
        if cmd.startswith("eval "):
            for part in re.split(r",\s*(?=[\w.]+\s*=)", cmd[5:]):
                if "=" in part:
                    evals.add(part.split("=", 1)[1].strip())
        elif cmd.startswith("where "):
            wheres.add(cmd[6:].strip())
for e in sorted(evals | wheres)[:1500]:
    put("eval_expr", e)
for path in sorted(glob.glob(os.path.join(escu, "macros", "*.yml")))[:200]:
    text = open(path, "rb").read()
    put("content_yaml", text)
    m = re.search(rb"^definition:\s*(.*)$", text, re.M)
    if m:
        put("spl_macros", m.group(1).strip(b"'\""))
for i, path in enumerate(sorted(glob.glob(os.path.join(escu, "detections", "**", "*.yml"), recursive=True))):
    if i % 8 == 0:
        put("content_yaml", open(path, "rb").read())
for path in sorted(glob.glob(os.path.join(escu, "deployments", "*.yml"))):
    text = open(path, "rb").read()
    put("content_yaml", text)
    for m in re.finditer(rb"cron_schedule:\s*['\"]?([^'\"\n]+)", text):
        put("cron", m.group(1).strip())

# --- hand-written seeds.
for s in ["| tstats count from datamodel=Endpoint.Processes where Processes.process_name=msiexec.exe by Processes.dest | `drop_dm_object_name(Processes)`",
          "`sysmon` EventCode=1 | stats count by Image", "`two(a, b)` | search x", "`ping`", "`self`", "`double`", "`grow8`",
          "`deep0`", "`dbl0(abcdefgh)`", "`argcycle(1)`", "`arg_in_arg(\"q\")`", "`dollar(z)`", "``` comment ``` `sysmon`", "\"`sysmon`\" `sysmon"]:
    put("spl_macros", s)
    put("spl_parse", s)
for s in ["if(match(CommandLine, \"(?i)http\"), 1, 0)", "case(n>1, \"a\", n<0, \"b\", true(), \"c\")",
          "mvindex(split(CommandLine, \" \"), -1)", "relative_time(now(), \"-1d@d\")", "strptime(\"2021-01-01\", \"%Y-%m-%d\")",
          "replace(Image, \"^.*\\\\\\\\\", \"\")", "len(Image) * 2 % 7 . \"x\"", "mvfilter(match(multi, \"a\"))",
          "tonumber(\"0x1F\", 16)", "round(f / 0, 3)", "like(Image, \"%msiexec%\") XOR NOT n>=42",
          "substr(CommandLine, -5, 3)", "coalesce(missing, empty, n)", "mvcount(multi) == 2 AND isnum(f)", "urldecode(\"%41%zz\")"]:
    put("eval_expr", s)
for s in ["-70m@m", "@w1", "-1d@d+6h", "now", "0", "+1mon@mon", "-7d@w0", "@q", "-1y@y-1s", "rt-30s",
          "1609459200", "2021-01-14T11:41:39.1234567Z", "2021-01-14 11:41:39.123",
          "01/14/2021 11:41:39 PM\0%m/%d/%Y %I:%M:%S %p", "2021-01-14T11:41:39+0200\0%Y-%m-%dT%H:%M:%S%z",
          "1610667699.5\0%s.%Q", "Jan 14 2021\0%b %d %Y", "14 23:59\0%j %H:%M", "x\0%%%n%t%Ez%:z%::z%N%3N%9N"]:
    put("time_parse", s)
for s in ["*/5 * * * *", "0 * * * *", "10 0 * * *", "0 0 1 1 *", "0 0 29 2 *", "59 23 31 12 6", "0-59/7 1,2,3 */2 JAN-MAR MON-FRI",
          "0 0 30 2 *", "* * * * 7", "@hourly", "0 0 L * *"]:
    put("cron", s)
put("content_yaml", "name: X\nid: 1\nversion: 3\nsearch: '`sysmon` EventCode=1'\ntype: TTP\n")
put("content_yaml", "name: m\ndefinition: search $a$\narguments:\n- a\n")
PY
for t in "$corpus"/*/; do
    printf '%-14s %6d inputs\n' "$(basename "$t")" "$(find "$t" -type f | wc -l)"
done
