"""The layers import what ARCHITECTURE.md says: the API never loads an outside system's client,
and workflows take their contracts from domain/, only activity classes from activities/."""

from __future__ import annotations

import ast
import importlib
import inspect
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


def _is_activity_class(value: object) -> bool:
    return inspect.isclass(value) and any(
        hasattr(member, "__temporal_activity_definition") for _, member in inspect.getmembers(value)
    )


def test_workflows_take_only_activity_classes_from_activities() -> None:
    imported: list[str] = []
    for path in sorted((ROOT / "workflows").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("activities"):
                module = importlib.import_module(node.module or "")
                imported += [
                    f"{path.name}: {node.module}.{alias.name}"
                    for alias in node.names
                    if not _is_activity_class(getattr(module, alias.name))
                ]
    assert imported == []
