"""The layers import what ARCHITECTURE.md says: the API never loads an outside system's client."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent
OUTSIDE_CLIENTS = ("ldap3", "smtplib")


def test_the_api_loads_no_outside_system_client() -> None:
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import api.app, json, sys; print(json.dumps(sorted(sys.modules)))",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    modules = set(json.loads(loaded.stdout.splitlines()[-1]))
    assert "api.app" in modules
    assert [name for name in OUTSIDE_CLIENTS if name in modules] == []
