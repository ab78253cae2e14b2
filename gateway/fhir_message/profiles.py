"""Builds labgw's FHIR profiles (schemas/fhir/) from their sources and MedCom's packages.

Our profiles are written as differentials (`schemas/fhir/source/*.json`). Their snapshots are made
here by laying each differential over its base profile's snapshot, taken from the MedCom
messaging 4.0.2 dependency closure (messaging 4.0.2, MedCom core 3.0.1, DK-core 3.4.0,
terminology). Only the machine-readable parts of base elements are kept (paths, cardinalities,
types, fixed and pattern values, bindings, slicing, constraints); prose is left in the packages.
Profiles on plain R4 resources (DiagnosticReport, Specimen) get a snapshot of the constrained
elements only, because the R4 core package is not part of the reference set.

    python -m gateway.fhir_message.profiles PACKAGES_DIR   # rewrites schemas/fhir/*.json
"""

from __future__ import annotations

import copy
import csv
import io
import json
import sys
import tarfile
from pathlib import Path
from typing import Any

from gateway.fhir_message import systems as sys_
from gateway.resources import mappings_dir, schemas_dir

_KEEP = {
    "id",
    "path",
    "sliceName",
    "slicing",
    "min",
    "max",
    "base",
    "type",
    "contentReference",
    "binding",
    "constraint",
    "mustSupport",
    "isModifier",
    "condition",
}


def _conformance(package: Path) -> dict[str, dict[str, Any]]:
    """StructureDefinitions in one package .tgz, by canonical url."""
    found: dict[str, dict[str, Any]] = {}
    with tarfile.open(package) as archive:
        for member in archive.getmembers():
            folder, _, name = member.name.rpartition("/")
            if folder == "package" and member.isfile() and name.startswith("StructureDefinition-"):
                handle = archive.extractfile(member)
                if handle is not None:
                    resource = json.loads(handle.read().decode("utf-8-sig"))
                    found[resource["url"]] = resource
    return found


def _strip(element: dict[str, Any]) -> dict[str, Any]:
    kept = {
        k: copy.deepcopy(v)
        for k, v in element.items()
        if k in _KEEP or k.startswith(("fixed", "pattern"))
    }
    binding = kept.get("binding")
    if binding is not None:
        kept["binding"] = {k: v for k, v in binding.items() if k in ("strength", "valueSet")}
    if "constraint" in kept:
        kept["constraint"] = [
            {
                k: v
                for k, v in c.items()
                if k in ("key", "severity", "human", "expression", "source")
            }
            for c in kept["constraint"]
        ]
    return kept


def _merge(base: dict[str, Any], diff: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in diff.items():
        if key == "constraint":
            merged["constraint"] = [*base.get("constraint", []), *value]
        elif key.startswith(("fixed", "pattern")):
            merged = {k: v for k, v in merged.items() if not k.startswith(("fixed", "pattern"))}
            merged[key] = value
        else:
            merged[key] = value
    return merged


def _inlined(element: dict[str, Any], bases: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The children of an element typed by a profile (e.g. a DK-core SOR identifier slice).

    MedCom's snapshots leave them in the type profile; writing them out here makes our
    snapshots self-contained, so slices can be told apart without the DK-core package.
    """
    types = element.get("type") or []
    profiles = [p for t in types for p in t.get("profile", [])]
    if len(types) != 1 or len(profiles) != 1 or types[0].get("code") == "Extension":
        return []
    typed = bases.get(profiles[0])
    if typed is None:
        return []
    root = typed["snapshot"]["element"][0]["path"]
    children = []
    for child in typed["snapshot"]["element"][1:]:
        kept = _strip(child)
        suffix = kept["id"][len(root) :]
        kept["id"] = f"{element['id']}{suffix}"
        kept["path"] = f"{element['path']}{kept['path'][len(root) :]}"
        children.append(kept)
    return children


def snapshot(source: dict[str, Any], bases: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The snapshot elements of one profile: base snapshot with the differential laid over."""
    diff = {e["id"]: e for e in source["differential"]["element"]}
    base = bases.get(source["baseDefinition"])
    if base is None:
        root = source["type"]
        elements = [{"id": root, "path": root, "min": 0, "max": "*"}]
        for element in source["differential"]["element"]:
            if element["id"] == root:
                elements[0] = _merge(elements[0], element)
            else:
                elements.append({"base": {"path": element["path"]}, **element})
        return elements
    out = []
    elements = base["snapshot"]["element"]
    for index, element in enumerate(elements):
        kept = _strip(element)
        out.append(_merge(kept, diff.pop(kept["id"])) if kept["id"] in diff else kept)
        following = elements[index + 1]["id"] if index + 1 < len(elements) else ""
        if not following.startswith(f"{kept['id']}."):
            out.extend(_inlined(kept, bases))
    for element in diff.values():  # new elements go after their parent's last descendant
        parent = element["id"].rsplit(".", 1)[0]
        at = max(i for i, e in enumerate(out) if e["id"] == parent or e["id"].startswith(parent))
        out.insert(at + 1, element)
    return out


def local_analyses() -> dict[str, Any]:
    """labgw's placeholder analysis codes (analyses.csv rows with code_type lokal)."""
    text = (mappings_dir() / "analyses.csv").read_text(encoding="utf-8")
    rows = csv.DictReader(
        io.StringIO("\n".join(line for line in text.splitlines() if not line.startswith("#")))
    )
    concepts = [
        {"code": r["npu_code"], "display": r["name"]} for r in rows if r["code_type"] == "lokal"
    ]
    return {
        "resourceType": "CodeSystem",
        "id": "labgw-local-analyses",
        "url": sys_.LOCAL_ANALYSES,
        "version": "0.1.0",
        "name": "LabgwLocalAnalyses",
        "title": "labgw placeholder analysis codes",
        "status": "draft",
        "content": "complete",
        "caseSensitive": True,
        "description": "Placeholders for analyses without a verified NPU code "
        "(mappings/analyses.csv); to be replaced by NPU/MDS codes agreed with SSI/MiBa.",
        "concept": concepts,
    }


def closure(out: Path) -> list[str]:
    """The packages our profiles build on: the dependencies in schemas/fhir/package.json
    (R4 core itself is not in the reference set; plain-R4 bases are handled in `snapshot`)."""
    manifest = json.loads((out / "package.json").read_text(encoding="utf-8"))
    return [
        f"{name}-{version}"
        for name, version in manifest["dependencies"].items()
        if name != "hl7.fhir.r4.core"
    ]


def build(packages: Path, out: Path) -> list[Path]:
    bases: dict[str, dict[str, Any]] = {}
    for name in closure(out):
        bases.update(_conformance(packages / f"{name}.tgz"))
    written = []
    for path in sorted((out / "source").glob("*.json")):
        resource = json.loads(path.read_text(encoding="utf-8"))
        if resource["resourceType"] == "StructureDefinition":
            resource["snapshot"] = {"element": snapshot(resource, bases)}
            target = out / f"StructureDefinition-{resource['id']}.json"
        else:
            target = out / f"{resource['resourceType']}-{resource['id']}.json"
        target.write_text(json.dumps(resource, ensure_ascii=False, indent=1) + "\n", "utf-8")
        written.append(target)
    target = out / "CodeSystem-labgw-local-analyses.json"
    target.write_text(json.dumps(local_analyses(), ensure_ascii=False, indent=1) + "\n", "utf-8")
    return [*written, target]


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python -m gateway.fhir_message.profiles PACKAGES_DIR")
    for written_path in build(Path(sys.argv[1]), schemas_dir() / "fhir"):
        print(written_path)
