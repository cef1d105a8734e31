"""The production description (Dockerfile, docker-compose.yml) agrees with the code.

The compose file is read as text with yaml.safe_load, so `${...}` stays unexpanded and no
secret has to be set. A setting added to settings.Settings without its line in the compose file,
a package folder the image does not copy, or a secret given a default all fail here.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from settings import AppEnv, Settings
from workflows.search_attributes import ALL as SEARCH_ATTRIBUTES

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"

APP_SERVICES = ("migrate", "api", "worker")
SERVICES = ("postgresql", "temporal", "temporal-admin-tools", "temporal-ui", *APP_SERVICES)
SETTINGS = {name.upper() for name in Settings.model_fields}
# Compose must refuse to start without these.
REQUIRED_SECRETS = ("PAYLOAD_KEYS", "SECRET_KEY", "POSTGRES_PASSWORD")
# Settings that hold secrets but may stay empty (their feature is off by default).
OPTIONAL_SECRETS = (
    "CREDENTIAL_KEYS",
    "LDAP_BIND_PASSWORD",
    "SMTP_PASSWORD",
    "DEMO_PASSWORD",
    "SRM_API_TOKEN",
    "JIRA_TOKEN",
)
# The knobs of temporalio/auto-setup that carry neither prefix.
AUTO_SETUP_KNOBS = {
    "DB",
    "DB_PORT",
    "DBNAME",
    "VISIBILITY_DBNAME",
    "DEFAULT_NAMESPACE",
    "SKIP_ADD_CUSTOM_SEARCH_ATTRIBUTES",
}
# `${VAR...}` in the file, but not the `$${VAR}` that compose leaves to the container's shell.
INTERPOLATION = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)([^}]*)\}")


@pytest.fixture(scope="module")
def compose_text() -> str:
    return COMPOSE_FILE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def compose(compose_text: str) -> dict[str, Any]:
    return yaml.safe_load(compose_text)


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment as a mapping, whichever of compose's two forms it uses."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def expand(value: str, secrets: dict[str, str]) -> str:
    """Compose's interpolation, enough for this file: secrets from `secrets`, others default."""

    def one(match: re.Match[str]) -> str:
        name, rest = match.groups()
        if name in secrets:
            return secrets[name]
        if rest.startswith((":-", "-")):
            return rest.split("-", 1)[1]
        raise AssertionError(f"${{{name}{rest}}} needs a value the test does not give")

    return INTERPOLATION.sub(one, value)


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, args = line.partition(" ")
            out.append((keyword.upper(), args.strip()))
    return out


# ---- docker-compose.yml -------------------------------------------------------------------


def test_the_expected_services_exist(services: dict[str, Any]) -> None:
    assert set(SERVICES) <= set(services), sorted(set(SERVICES) - set(services))


def test_app_services_get_every_setting(services: dict[str, Any]) -> None:
    for name in APP_SERVICES:
        env = environment(services[name])
        missing = SETTINGS - set(env)
        assert not missing, f"{name} lacks {sorted(missing)}: add them to x-peygir-env"


def test_api_and_worker_share_one_environment(
    compose: dict[str, Any], services: dict[str, Any]
) -> None:
    shared = environment({"environment": compose["x-peygir-env"]})
    assert set(shared) == SETTINGS
    for name in APP_SERVICES:
        assert environment(services[name]) == shared, name


def test_no_unknown_setting_reaches_the_app(services: dict[str, Any]) -> None:
    for name in APP_SERVICES:
        unknown = set(environment(services[name])) - SETTINGS
        assert not unknown, f"{name} sets {sorted(unknown)}, which settings.Settings ignores"


def test_other_services_get_only_their_own_variables(services: dict[str, Any]) -> None:
    app_secrets = {"PAYLOAD_KEYS", "SECRET_KEY", *OPTIONAL_SECRETS}
    for name, service in services.items():
        if name in APP_SERVICES:
            continue
        for key in environment(service):
            assert key not in app_secrets, f"{name} must not receive {key}"
            assert key.startswith(("POSTGRES_", "TEMPORAL_")) or key in AUTO_SETUP_KNOBS, (
                f"{name}: {key} is neither a POSTGRES_*/TEMPORAL_* variable nor an auto-setup one"
            )


def test_every_interpolated_variable_is_known(compose_text: str) -> None:
    for name, _ in INTERPOLATION.findall(compose_text):
        assert name in SETTINGS or name.startswith(("POSTGRES_", "TEMPORAL_")), (
            f"${{{name}}} is neither a setting nor a POSTGRES_*/TEMPORAL_* variable (a typo?)"
        )


def test_app_runs_in_production(services: dict[str, Any]) -> None:
    for name in APP_SERVICES:
        assert environment(services[name])["APP_ENV"] == AppEnv.production.value


def test_required_secrets_have_no_default(compose_text: str, compose: dict[str, Any]) -> None:
    uses = [(n, rest) for n, rest in INTERPOLATION.findall(compose_text) if n in REQUIRED_SECRETS]
    assert {n for n, _ in uses} == set(REQUIRED_SECRETS)
    for name, rest in uses:
        assert rest.startswith(":?"), f"${{{name}{rest}}} must be ${{{name}:?message}}"
    env = compose["x-peygir-env"]
    for name in ("PAYLOAD_KEYS", "SECRET_KEY"):
        assert str(env[name]).startswith(f"${{{name}:?"), name
    assert "${POSTGRES_PASSWORD:?" in env["DATABASE_URL"]


def test_no_secret_is_written_into_the_file(services: dict[str, Any]) -> None:
    for name, service in services.items():
        for key, value in environment(service).items():
            if any(word in key for word in ("PASSWORD", "PWD", "SECRET", "KEYS")):
                match = INTERPOLATION.fullmatch(value)
                assert match, f"{name}: {key} holds a literal value"
                rest = match.group(2)
                if rest.startswith((":-", "-")):
                    assert rest in (":-", "-"), f"{name}: {key} has a default value"
                else:
                    assert rest.startswith(":?"), f"{name}: {key} must be required or empty"


def test_settings_accept_the_compose_environment(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets = {
        "PAYLOAD_KEYS": "k1:" + "A" * 43 + "=",
        "SECRET_KEY": "not-a-real-secret",
        "POSTGRES_PASSWORD": "pw",
    }
    for key, value in compose["x-peygir-env"].items():
        monkeypatch.setenv(key, expand(str(value), secrets))
    settings = Settings(_env_file=None)
    settings.require_secrets()
    assert settings.app_env is AppEnv.production
    assert settings.database_url == "postgresql+psycopg://peygir:pw@postgresql:5432/peygir"
    assert settings.temporal_address == "temporal:7233"
    assert list(settings.encryption_keys()) == ["k1"]


def test_databases_are_wired(compose: dict[str, Any], services: dict[str, Any]) -> None:
    url = compose["x-peygir-env"]["DATABASE_URL"]
    assert url.startswith("postgresql+psycopg://")
    assert url.endswith("@postgresql:5432/peygir")
    pg = environment(services["postgresql"])
    assert pg["POSTGRES_DB"] == "peygir"
    assert "volumes" in services["postgresql"]
    temporal = environment(services["temporal"])
    assert temporal["DB"] == "postgres12"
    assert temporal["POSTGRES_SEEDS"] == "postgresql"
    assert temporal["DB_PORT"] == "5432"
    assert temporal["POSTGRES_USER"] == pg["POSTGRES_USER"]
    assert temporal["DBNAME"] != "peygir" and temporal["VISIBILITY_DBNAME"] != "peygir"


def test_temporal_is_wired(compose: dict[str, Any], services: dict[str, Any]) -> None:
    env = compose["x-peygir-env"]
    assert env["TEMPORAL_ADDRESS"] == "temporal:7233"
    namespace = env["TEMPORAL_NAMESPACE"]
    assert environment(services["temporal"])["DEFAULT_NAMESPACE"] == namespace
    assert environment(services["temporal-admin-tools"])["TEMPORAL_NAMESPACE"] == namespace
    assert environment(services["temporal-ui"])["TEMPORAL_DEFAULT_NAMESPACE"] == namespace
    assert environment(services["temporal-ui"])["TEMPORAL_ADDRESS"] == "temporal:7233"


def test_search_attributes_are_registered(services: dict[str, Any]) -> None:
    admin = services["temporal-admin-tools"]
    script = " ".join(admin.get("entrypoint") or []) + " " + " ".join(admin["command"])
    assert "search-attribute create" in script
    assert "--type Keyword" in script
    for key in SEARCH_ATTRIBUTES:
        assert key.name in script, f"{key.name} is not registered"
    condition = admin["depends_on"]["temporal"]["condition"]
    assert condition == "service_healthy"


def test_ui_decodes_through_the_public_codec(
    compose: dict[str, Any], services: dict[str, Any]
) -> None:
    ui = environment(services["temporal-ui"])
    endpoint = ui["TEMPORAL_CODEC_ENDPOINT"]
    assert endpoint.endswith("/codec")
    assert endpoint == compose["x-peygir-env"]["PUBLIC_BASE_URL"] + "/codec"
    assert ui["TEMPORAL_CODEC_INCLUDE_CREDENTIALS"] == "true"
    assert any(str(port).endswith("8233:8080") for port in services["temporal-ui"]["ports"])
    # The UI's port is the origin /codec lets in by default.
    assert "8233" in compose["x-peygir-env"]["CODEC_CORS_ORIGINS"]


def test_one_shots_run_before_the_app(services: dict[str, Any]) -> None:
    assert services["migrate"]["command"] == ["python", "-m", "db.migrate"]
    for name in ("migrate", "temporal-admin-tools"):
        assert services[name]["restart"] == "no", name
    for name in ("api", "worker"):
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
        assert depends["temporal-admin-tools"]["condition"] == "service_completed_successfully"
        assert depends["temporal"]["condition"] == "service_healthy", name


def test_api_and_worker_commands(services: dict[str, Any]) -> None:
    api = services["api"]
    assert api["command"][:3] == ["uvicorn", "--factory", "api.app:app_factory"]
    assert any(str(port).endswith("8000:8000") for port in api["ports"])
    assert services["worker"]["command"] == ["python", "worker.py"]


def test_worker_can_be_scaled(services: dict[str, Any]) -> None:
    worker = services["worker"]
    assert not worker.get("ports"), "a published port would stop --scale worker=N"
    assert "container_name" not in worker


def test_long_running_services_restart_and_report_health(services: dict[str, Any]) -> None:
    for name in ("postgresql", "temporal", "temporal-ui", "api", "worker"):
        assert services[name]["restart"] in ("unless-stopped", "always"), name
    for name in ("postgresql", "temporal", "temporal-ui"):
        assert services[name]["healthcheck"]["test"], name
    # api inherits the image's HEALTHCHECK; the others switch it off.
    assert "healthcheck" not in services["api"]
    for name in ("migrate", "worker"):
        assert services[name]["healthcheck"] == {"disable": True}, name


def test_header_says_how_to_run(compose_text: str) -> None:
    header = compose_text.split("\nname:", 1)[0]
    assert "docker compose up -d" in header
    assert "--scale worker=3" in header
    assert "base64.b64encode(os.urandom(32))" in header


# ---- Dockerfile and .dockerignore ---------------------------------------------------------


def test_dockerfile_copies_the_code() -> None:
    sources: set[str] = set()
    for keyword, args in dockerfile_instructions():
        if keyword == "COPY":
            words = [w for w in args.split() if not w.startswith("--")]
            sources.update(w.rstrip("/").removeprefix("./") for w in words[:-1])
    not_shipped = {"tests", "bench"}  # the test suite and the benchmarks stay out of the image
    packages = {
        p.name
        for p in ROOT.iterdir()
        if (p / "__init__.py").is_file() and p.name not in not_shipped
    }
    assert {"api", "activities", "db", "domain", "workflows"} <= packages
    expected = packages | {"settings.py", "worker.py", "alembic.ini", "pyproject.toml"}
    assert not expected - sources, f"the Dockerfile does not COPY {sorted(expected - sources)}"


def test_dockerfile_builds_and_runs_as_intended() -> None:
    instructions = dockerfile_instructions()
    keywords = [k for k, _ in instructions]
    args = {k: a for k, a in instructions}  # the last of each
    assert instructions[0][0] == "FROM" and instructions[0][1].startswith("python:3.11-slim")
    assert any(k == "RUN" and "pip install ." in a for k, a in instructions)
    # domain/calendar.py loads Asia/Tehran on import: the zone database must be in the image.
    assert any(k == "RUN" and "tzdata" in a for k, a in instructions)
    assert "PYTHONPATH=/app" in " ".join(a for k, a in instructions if k == "ENV")
    assert args["WORKDIR"] == "/app"
    user = args["USER"].split(":")[0]
    assert user not in ("", "root", "0"), "the image must not run as root"
    assert keywords.index("USER") < keywords.index("CMD")
    # Exec form (JSON arrays): the process gets the signals, no shell in between.
    probe = json.loads(args["HEALTHCHECK"].split("CMD", 1)[1])
    assert "/api/health" in " ".join(probe)
    cmd = json.loads(args["CMD"])
    assert cmd[:3] == ["uvicorn", "--factory", "api.app:app_factory"]
    assert cmd[cmd.index("--host") + 1] == "0.0.0.0"
    assert cmd[cmd.index("--port") + 1] == "8000"


def test_dockerignore_keeps_local_state_out() -> None:
    entries = {
        line.strip().removeprefix("**/")
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    for entry in (".venv", "var", "tests/output", ".git", "__pycache__", ".env"):
        assert entry in entries, entry


# ---- docker compose itself, where it is installed -----------------------------------------


def _compose_available() -> bool:
    if shutil.which("docker") is None:
        return False
    probe = subprocess.run(
        ["docker", "compose", "version"], capture_output=True, text=True, check=False
    )
    return probe.returncode == 0


@pytest.mark.skipif(not _compose_available(), reason="docker compose is not installed")
def test_docker_compose_accepts_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    """`docker compose config` works offline and without an engine: it only reads the file."""
    for name in REQUIRED_SECRETS:
        monkeypatch.delenv(name, raising=False)
    # --env-file /dev/null: a developer's .env beside the file must not supply the secrets.
    compose = ["docker", "compose", "--env-file", "/dev/null", "-f", str(COMPOSE_FILE)]
    command = [*compose, "config", "-q"]
    refused = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)
    assert refused.returncode != 0, "compose started without the secrets"

    for name in REQUIRED_SECRETS:
        monkeypatch.setenv(name, "dummy")
    accepted = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)
    assert accepted.returncode == 0, accepted.stderr
