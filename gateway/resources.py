"""Where labgw's data lives: schemas/, mappings/, conformance/ beside the package.

Data files are part of the product (DESIGN: data over code), so they are looked up in one place.
`LABGW_HOME` points elsewhere, e.g. to a deployment's own copy of the tables.
"""

from __future__ import annotations

import os
from pathlib import Path

from gateway.errors import ConfigError


def home() -> Path:
    """The folder that holds schemas/ and mappings/."""
    configured = os.environ.get("LABGW_HOME")
    root = Path(configured) if configured else Path(__file__).resolve().parent.parent
    if not (root / "schemas").is_dir():
        raise ConfigError(
            f"labgw data not found: {root / 'schemas'} is not a folder (set LABGW_HOME)"
        )
    return root


def schemas_dir() -> Path:
    return home() / "schemas"


def mappings_dir() -> Path:
    return home() / "mappings"
