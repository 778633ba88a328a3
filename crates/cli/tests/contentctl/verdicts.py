#!/usr/bin/env python3
"""Per-detection verdicts of Splunk's contentctl on an ESCU content directory.

Regenerate the committed expectations (needs Python 3.11 and `pip install contentctl==4.4.7`):

    python3 crates/cli/tests/contentctl/verdicts.py ../shared/escu \
        > crates/cli/tests/contentctl/escu_verdicts.tsv

contentctl validates a whole app at once and stops at the first kind of content with errors,
so this script lays the content out as an app in a temporary directory and then validates each
detection the way `contentctl validate` does (contentctl's Director, file by file, in its order),
and the synthetic variants of mutations.tsv (under detections/mutants/), recording for each: `accept`, `warn` (accepted with a warning: a data source that data_sources/
does not define) or `reject`, with contentctl's first message. It also runs the real
`contentctl validate` on the same app and records its exit code in the header.

The content copy has no stories/ and no .mlmodel files (see app_layout): a minimal story is written for every analytic_story name
the detections use, so contentctl checks the detections themselves (Vigil has no stories either).
"""
import contextlib
import io
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import uuid

import yaml

CONTENTCTL_VERSION = "4.4.7"
LINKED = ["macros", "data_sources", "deployments"]
MUTATIONS = pathlib.Path(__file__).with_name("mutations.tsv")
EMPTY = ["baselines", "investigations", "playbooks", "dashboards"]


def build_mutants(content: pathlib.Path, out: pathlib.Path) -> None:
    """The synthetic variants of mutations.tsv (see its header), as crates/cli/tests/contentctl.rs
    builds them."""
    out.mkdir(parents=True)
    for line in MUTATIONS.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        mid, base, find, replace, _intent = line.split("\t")
        text = (content / "detections" / "endpoint" / base).read_text(encoding="utf-8")
        doc = yaml.safe_load(text)
        stem = re.sub(r"[ \-./]", "_", doc["name"]).lower()
        for old, new in [(f"name: {doc['name']}\n", f"name: Mutant {mid}\n"), (f"id: {doc['id']}\n", f"id: 00000000-0000-4000-8000-0000000000{mid}\n")]:
            assert text.count(old) == 1, (mid, old)
            text = text.replace(old, new)
        text = text.replace(f"`{stem}_filter`", f"`mutant_{mid}_filter`")
        find, replace = find.replace("\\n", "\n"), replace.replace("\\n", "\n")
        if find:
            assert text.count(find) == 1, (mid, find)
            text = text.replace(find, replace)
        (out / f"mutant_{mid}.yml").write_text(text, encoding="utf-8")


def app_layout(content: pathlib.Path, root: pathlib.Path) -> None:
    # A copy: contentctl does not follow symbolic links to directories.
    shutil.copytree(content / "detections", root / "detections")
    for d in LINKED:
        if (content / d).is_dir():
            os.symlink((content / d).resolve(), root / d)
        else:
            (root / d).mkdir()
    # The content copy keeps lookups' CSV and YAML but not the binary .mlmodel files that five
    # lookups name: empty stand-ins let contentctl load those lookups.
    shutil.copytree(content / "lookups", root / "lookups")
    for f in (root / "lookups").glob("*.yml"):
        named = (yaml.safe_load(f.read_text(encoding="utf-8")) or {}).get("filename") or ""
        if named.endswith(".mlmodel") and not (root / "lookups" / named).exists():
            (root / "lookups" / named).touch()
    for d in EMPTY + ["stories"]:
        (root / d).mkdir()
    stories = set()
    for f in sorted((content / "detections").rglob("*.yml")):
        try:
            doc = yaml.load(f.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
            stories.update(doc.get("tags", {}).get("analytic_story", []) or [])
        except Exception:
            continue
    for name in sorted(s for s in stories if isinstance(s, str)):
        file = re.sub(r"[ \-./]", "_", name).lower() + ".yml"
        story = {
            "name": name,
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, "story:" + name)),
            "version": 1,
            "date": "2024-10-01",
            "author": "generated, verdicts.py",
            "description": "Stand-in for the ESCU story of this name.",
            "narrative": "Stand-in.",
            "references": [],
            "tags": {"category": ["Adversary Tactics"], "product": ["Splunk Enterprise"], "usecase": "Advanced Threat Detection"},
        }
        (root / "stories" / file).write_text(yaml.safe_dump(story), encoding="utf-8")
    (root / "contentctl.yml").write_text(
        "path: .\napp:\n  uid: 3449\n  title: ES Content Updates\n  appid: DA-ESS-ContentUpdate\n"
        "  version: 4.0.0\n  description: x\n  prefix: ESCU\n  label: ESCU\n  author_name: x\n"
        "  author_email: x@example.com\n  author_company: x\nenrichments: false\nbuild_app: false\n",
        encoding="utf-8",
    )


def one_line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return text[:300]


def per_detection(root: pathlib.Path) -> list[tuple[str, str, str]]:
    import contentctl.contentctl  # noqa: F401  (defines every model, as the CLI does)
    from contentctl.input.director import Director, DirectorOutputDto
    from contentctl.input.yml_reader import YmlReader
    from contentctl.objects.config import validate
    from contentctl.objects.detection import Detection
    from contentctl.objects.enums import SecurityContentType
    from contentctl.helper.utils import Utils
    from contentctl.objects.atomic import AtomicEnrichment
    from contentctl.enrichments.attack_enrichment import AttackEnrichment
    from contentctl.enrichments.cve_enrichment import CveEnrichment
    import contentctl.objects.abstract_security_content_objects.detection_abstract as da
    from pydantic import ValidationError

    os.chdir(root)
    cfg = validate(path=root, enrichments=False, build_app=False)
    dto = DirectorOutputDto(
        AtomicEnrichment.getAtomicEnrichment(cfg),
        AttackEnrichment.getAttackEnrichment(cfg),
        CveEnrichment.getCveEnrichment(cfg),
        [], [], [], [], [], [], [], [], [], [],
    )
    director = Director(dto)
    director.input_dto = cfg
    with contextlib.redirect_stdout(io.StringIO()):
        for kind in ["deployments", "lookups", "macros", "stories", "baselines", "investigations", "data_sources", "playbooks"]:
            director.createSecurityContent(SecurityContentType[kind])
    out = []
    files = Utils.get_all_yml_files_from_directory(os.path.join(root, "detections"))
    for file in files:
        rel = str(pathlib.Path(file).absolute().relative_to(root.absolute() / "detections"))
        da.MISSING_SOURCES.clear()
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                model = YmlReader.load_file(file)
                det = Detection.model_validate(model, context={"output_dto": dto, "app": cfg.app})
                dto.addContentToDictMappings(det)
        except SystemExit:
            out.append((rel, "reject", "invalid YAML"))
            continue
        except (ValidationError, ValueError) as e:
            out.append((rel, "reject", one_line(e)))
            continue
        if da.MISSING_SOURCES:
            out.append((rel, "warn", "data_source not defined: " + ", ".join(sorted(da.MISSING_SOURCES))))
        else:
            out.append((rel, "accept", ""))
    return out


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    content = pathlib.Path(sys.argv[1]).resolve()
    import importlib.metadata

    version = importlib.metadata.version("contentctl")
    if version != CONTENTCTL_VERSION:
        print(f"warning: contentctl {version}, the expectations were made with {CONTENTCTL_VERSION}", file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        root = pathlib.Path(tmp)
        app_layout(content, root)
        run = subprocess.run(["contentctl", "validate"], cwd=root, capture_output=True, text=True)
        build_mutants(content, root / "detections" / "mutants")
        print(f"contentctl validate: exit {run.returncode}\n{run.stdout[-3000:]}{run.stderr[-3000:]}", file=sys.stderr)
        # The real CLI again, with the variants: the files it lists as errors must be exactly
        # the ones rejected below, one by one.
        with_mutants = subprocess.run(["contentctl", "validate"], cwd=root, capture_output=True, text=True)
        listed = set(re.findall(r"^File: detections/(\S+)$", with_mutants.stdout + with_mutants.stderr, re.M))
        rows = per_detection(root)
    rejected = {rel for rel, verdict, _ in rows if verdict == "reject"}
    if listed != rejected:
        print(f"error: contentctl validate lists {sorted(listed ^ rejected)} differently", file=sys.stderr)
        return 1
    print(f"# contentctl {version} verdicts per detection on {content.name}; regenerate with verdicts.py (see its header)")
    print(f"# `contentctl validate` on the unmodified content: exit {run.returncode}")
    print("# file (under detections/)\tverdict (accept|warn|reject)\tcontentctl's message")
    for rel, verdict, msg in sorted(rows):
        print(f"{rel}\t{verdict}\t{msg}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
