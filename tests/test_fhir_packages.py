"""FHIR packages: loading from .tgz and folders, the resolution rule, the disk cache."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from gateway.errors import ConfigError
from gateway.fhir import packages as pk
from gateway.fhir.packages import PackageKey, load_packages, version_key
from gateway.fhir.profiles import KNOWN_TARGET_TYPES
from tests.test_fhir_validate import fhir_cache, packages_dir  # noqa: F401  (fixtures)

HCO = PackageKey("medcom.fhir.dk.homecareobservation", "1.2.1")
ACK = PackageKey("medcom.fhir.dk.acknowledgement", "2.0.3")
PATIENT = "http://medcomfhir.dk/ig/core/StructureDefinition/medcom-core-patient"
GLN = "http://hl7.dk/fhir/core/StructureDefinition/dk-core-gln-identifier"


@pytest.fixture(scope="module")
def loaded(packages_dir: Path, fhir_cache: Path) -> pk.PackageSet:  # noqa: F811
    return load_packages([packages_dir])


def test_every_reference_package_loads_with_its_dependencies(loaded: pk.PackageSet) -> None:
    assert HCO in loaded.packages and len(loaded) >= 23
    closure = loaded.closure(HCO)
    assert closure[HCO] == 0
    assert closure[PackageKey("hl7.fhir.dk.core", "3.4.0")] == 1
    assert closure[PackageKey("medcom.fhir.dk.core", "2.4.0")] == 1
    assert PackageKey("medcom.fhir.dk.core", "4.0.0") not in closure


@pytest.mark.parametrize(
    ("canonical", "context", "package"),
    [
        (PATIENT, HCO, "medcom.fhir.dk.core#2.4.0"),
        (PATIENT, ACK, "medcom.fhir.dk.core#2.0.1"),
        (PATIENT, None, "medcom.fhir.dk.core#4.0.0"),
        (GLN, HCO, "hl7.fhir.dk.core#3.4.0"),
        (GLN, None, "hl7.fhir.dk.core#3.5.0"),
        (f"{PATIENT}|2.3.0", None, "medcom.fhir.dk.core#2.3.0"),
        (f"{PATIENT}|9.9.9", HCO, "medcom.fhir.dk.core#2.4.0"),
    ],
    ids=[
        "closure-of-hco",
        "closure-of-ack",
        "no-context-highest",
        "nearest-dependency",
        "no-context-dk-core-3.5",
        "exact-version",
        "unknown-version-falls-back",
    ],
)
def test_resolution_prefers_the_dependency_closure_then_the_highest_version(
    loaded: pk.PackageSet, canonical: str, context: PackageKey | None, package: str
) -> None:
    found = loaded.resolve(canonical, context)
    assert found is not None and str(found.package) == package


def test_unknown_canonical_resolves_to_none(loaded: pk.PackageSet) -> None:
    assert loaded.resolve("http://example.org/StructureDefinition/nothing") is None


def test_version_order_is_numeric_and_prereleases_come_first() -> None:
    ordered = sorted(["1.10.0", "1.2.0", "1.0.1-trial-use", "1.0.1", "1.0.0"], key=version_key)
    assert ordered == ["1.0.0", "1.0.1-trial-use", "1.0.1", "1.2.0", "1.10.0"]


def test_unpacked_folder_and_tgz_give_the_same_resources(
    packages_dir: Path,  # noqa: F811
    tmp_path: Path,
    fhir_cache: Path,  # noqa: F811
) -> None:
    archive = packages_dir / "medcom.fhir.dk.terminology-2.0.2.tgz"
    shutil.unpack_archive(archive, tmp_path / "terminology", format="gztar")
    from_tgz = pk._from_tgz(archive)
    from_folder = pk._from_folder(tmp_path / "terminology")
    assert from_tgz.key == from_folder.key
    assert sorted(r["url"] for r in from_tgz.resources) == sorted(
        r["url"] for r in from_folder.resources
    )


def test_the_disk_cache_is_written_once_and_read_back(
    packages_dir: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    archive = packages_dir / "medcom.fhir.dk.terminology-2.0.2.tgz"
    first = pk._cached_tgz(archive, tmp_path)
    cached = list(tmp_path.glob("*.json"))
    assert len(cached) == 1 and json.loads(cached[0].read_text())["format"] == pk.CACHE_FORMAT
    again = pk._cached_tgz(archive, tmp_path)
    assert again.resources == first.resources and again.dependencies == first.dependencies
    cached[0].write_text("{broken", encoding="utf-8")  # a damaged cache is rebuilt, not fatal
    assert pk._cached_tgz(archive, tmp_path).resources == first.resources


def test_labgw_local_profiles_are_always_loaded(loaded: pk.PackageSet) -> None:
    local = [key for key in loaded.packages if key.name == pk.LOCAL_PACKAGE]
    assert len(local) == 1


def test_a_missing_or_broken_package_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        load_packages([tmp_path / "absent.tgz"])
    broken = tmp_path / "broken.tgz"
    broken.write_bytes(b"not a tar")
    with pytest.raises(ConfigError):
        load_packages([broken])
    with pytest.raises(ConfigError):
        load_packages([tmp_path])  # a folder without packages


@pytest.mark.parametrize("canonical", sorted(KNOWN_TARGET_TYPES))
def test_known_target_types_agree_with_every_version_in_the_packages(
    loaded: pk.PackageSet, canonical: str
) -> None:
    """What the checker assumes of a MedCom/DK-core target profile without the packages is what
    each version of that profile in the reference packages constrains."""
    found = [loaded.resolve(canonical, key) for key in loaded.packages]
    types = {(str(r.package), r.resource["type"]) for r in found if r is not None}
    assert types and {t for _, t in types} == {KNOWN_TARGET_TYPES[canonical]}, types
