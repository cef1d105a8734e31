"""Every setting Peygir reads, from the environment (or `.env`, then `var/secrets.env`).

docker-compose.yml names these same variables; tests/test_deployment.py checks that it does.
"""

from __future__ import annotations

import base64
from enum import StrEnum
from functools import lru_cache

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class AppEnv(StrEnum):
    development = "development"
    production = "production"


class MailDirectoryKind(StrEnum):
    local = "local"
    ldap = "ldap"


class EmailSenderKind(StrEnum):
    local = "local"
    smtp = "smtp"


class OfficeAutomationKind(StrEnum):
    manual = "manual"
    """The automation admin does it in the system by hand; the tasks record what was done."""
    rest = "rest"
    """Peygir calls the system's REST endpoint (activities/office_automation.py)."""


class Settings(BaseSettings):
    """Secrets (and the database URL, which may hold a password) stay out of `repr`: a settings
    object in a log line or an exception message shows none of them."""

    model_config = SettingsConfigDict(
        env_file=(".env", "var/secrets.env"), env_file_encoding="utf-8", extra="ignore"
    )

    app_env: AppEnv = AppEnv.development
    """development seeds demo users; production never does and requires real secrets."""
    database_url: str = Field(default="sqlite:///var/peygir.db", repr=False)
    """SQLAlchemy URL of the system of record (SQLite file or postgresql+psycopg://)."""
    database_lock_timeout_seconds: float = Field(default=30, gt=0)
    """How long an API request waits for a lock another connection holds; then it answers 503
    with Retry-After instead of holding a worker thread and a pooled connection any longer."""
    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    temporal_task_queue: str = "peygir"
    workflow_sandbox: bool = True
    """Run workflows inside Temporal's Python sandbox, which stops non-deterministic calls as
    they happen but costs about 20 ms of worker CPU per e-mail case. Tests and history replays
    always run in it; a production worker may turn it off (docker-compose.yml does)."""
    payload_keys: str = Field(default="", repr=False)
    """Payload encryption keys as `id:base64key,id2:base64key2`; the first one encrypts."""
    secret_key: str = Field(default="", repr=False)
    """Signs access tokens and session cookies."""
    demo_password: str = Field(default="demo", repr=False)
    mail_domain: str = "university.ac.ir"
    mail_directory: MailDirectoryKind = MailDirectoryKind.local
    ldap_url: str = "ldap://127.0.0.1:389"
    ldap_bind_dn: str = ""
    ldap_bind_password: str = Field(default="", repr=False)
    ldap_base_dn: str = "ou=mail,dc=university,dc=ac,dc=ir"
    email_sender: EmailSenderKind = EmailSenderKind.local
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_username: str = ""
    smtp_password: str = Field(default="", repr=False)
    smtp_starttls: bool = False
    smtp_from: str = "it-noreply@university.ac.ir"
    weekend_days: str = "3,4"
    """Python weekday numbers that are not working days (Thursday=3, Friday=4)."""
    timezone: str = "Asia/Tehran"
    codec_cors_origins: str = "http://localhost:8233"
    """Origins (comma-separated) of the Temporal UI allowed to call /codec."""
    track_rate_limit_per_minute: int = 10
    access_token_minutes: int = Field(default=480, ge=1)
    login_max_failures_per_account: int = Field(default=5, ge=1)
    """Failed logins of one username (from anywhere) before it is locked for a while."""
    login_max_failures_per_address: int = Field(default=20, ge=1)
    """Failed logins from one client address (any usernames) before it is locked for a while."""
    login_failure_window_minutes: int = Field(default=15, ge=1)
    """Failures are forgotten this long after the last one."""
    login_lock_base_seconds: int = Field(default=60, ge=1)
    """The first lock; each further failure past the limit doubles it."""
    login_lock_max_seconds: int = Field(default=900, ge=1)
    """The longest lock: under attack, the real user gets in at most this much later."""
    public_base_url: str = "http://localhost:8000"
    """Where people reach the portal; used in messages sent to them."""
    repair_quote_approval_limit_rials: int = Field(default=100_000_000, ge=0)
    """A vendor's quote above this many rials waits for the support lead's approval."""
    repair_receipt_working_days: int = Field(default=3, ge=1, le=60)
    """Working days the requester has to confirm receipt; then the repair closes as delivered."""
    shams_progress_check_minutes: int = Field(default=60, ge=1, le=1440)
    """How often a SHAMS rollout and its counties read their progress from the database."""
    shams_carrier_reminder_working_days: int = Field(default=3, ge=1, le=60)
    """While sites wait for ranging, the carrier is reminded this often (one digest)."""
    shams_site_batch: int = Field(default=100, ge=1, le=1000)
    """Site workflows a county starts at once."""
    shams_probe_window_seconds: int = Field(default=3600, ge=1)
    """One attempt window of a site's connection check (probes with backoff)."""
    shams_probe_pause_minutes: int = Field(default=120, ge=1)
    """The wait between two attempt windows."""
    shams_probe_first_retry_seconds: float = Field(default=5, gt=0)
    shams_probe_max_retry_seconds: float = Field(default=300, gt=0)
    shams_probe_give_up_working_days: int = Field(default=5, ge=1, le=60)
    """A site still unreachable this many working days after its entry in SHAMS goes back to
    the carrier as a fault."""
    shams_continue_as_new_after_events: int = Field(default=8000, ge=100, le=10_000)
    """SHAMS workflows continue-as-new at this history length if Temporal has not suggested
    it yet (it does from 4,096 events): below the 10,240-event warning whatever the server."""
    srm_import_dir: str = "var/srm/inbox"
    """Where exports downloaded from SRM are dropped for `python -m db.srm_import folder` (an ops
    cron or the worker calls it): each file is imported once, then moved to `imported/` or, with
    its errors, to `rejected/`."""
    srm_api_url: str = ""
    """SRM's HTTP JSON endpoint of error reports (activities/srm_http.py); empty: files only."""
    srm_api_token: str = Field(default="", repr=False)
    """The bearer token of that endpoint; never logged, never in an error message."""
    srm_api_timeout_seconds: float = Field(default=30, gt=0, le=300)
    """How long one read of the endpoint may take (connect, then each read of the answer)."""
    sepas_similarity_threshold: float = Field(default=80, ge=50, le=100)
    """The least similarity (0–100, rapidfuzz's `fuzz.ratio`) at which the error bank offers an
    entry for a message it names neither exactly nor by a pattern; below it, it is unknown."""
    sepas_srm_check_hours: int = Field(default=12, ge=1, le=168)
    """A SEPAS case waiting on SRM (its data, or the evidence of a fix) looks again this often,
    besides at each import."""
    sepas_import_reminder_hours: int = Field(default=24, ge=1, le=720)
    """While a case waits for SRM data, the SEPAS experts are reminded to import this often."""
    sepas_jira_poll_hours: int = Field(default=6, ge=1, le=168)
    """How often a case reads its issue in the ministry's Jira (a webhook wakes it sooner)."""
    sepas_continue_as_new_after_events: int = Field(default=2000, ge=100, le=40_000)
    """A SEPAS case waiting for weeks continues as new past this many history events (or when
    Temporal suggests it), so its history, and a worker's replay of it, stay small."""
    sepas_clean_days: int = Field(default=3, ge=1, le=60)
    """A fix is confirmed when SRM's data shows none of the case's messages for this many days."""
    jira_webhook_secret: str = Field(default="", repr=False)
    """The secret the ministry's Jira sends with its webhook (`?secret=`); empty: webhooks are
    not found and polling alone follows the issues."""
    jira_base_url: str = ""
    """The ministry's Jira Server / Data Center (https://jira.example.ir), REST API v2
    (activities/jira.py); empty: no issue can be opened."""
    jira_token: str = Field(default="", repr=False)
    """The Personal Access Token Peygir's Jira user sends as a bearer token; never logged, never
    in an error message."""
    jira_project_key: str = "SEPAS"
    """The Jira project the university's issues are opened in."""
    jira_issue_type: str = "Bug"
    """The issue type they are opened as (its name in that project)."""
    jira_timeout_seconds: float = Field(default=30, gt=0, le=300)
    office_automation: OfficeAutomationKind = OfficeAutomationKind.manual
    """How posts, cartables and permissions are made in the office-automation system (Didgah
    and its peers publish no API: by hand, by default)."""
    office_automation_url: str = ""
    """The system's REST endpoint when OFFICE_AUTOMATION=rest."""
    office_automation_token: str = Field(default="", repr=False)
    """Its bearer token."""
    office_automation_timeout_seconds: float = Field(default=30, gt=0, le=300)
    """How long one call to the automation system may take (connect, then each read)."""
    credential_keys: str = Field(default="", repr=False)
    """Keys sealing the initial passwords handed over to units' heads (process 3), as
    `id:base64(32 bytes)`, comma-separated, the first sealing: only the API holds them (it seals
    what the admin types and opens it on the one-time page), never the worker, so no workflow
    can see them. Empty: PAYLOAD_KEYS (development only)."""
    handover_link_hours: int = Field(default=24, ge=1, le=720)
    """How long the one-time link to an initial password stays valid."""
    handover_max_failures: int = Field(default=3, ge=1, le=10)
    """Wrong second factors before the link is locked (the admin issues a new one)."""
    handover_reminder_hours: int = Field(default=24, ge=1, le=720)
    """Once the credentials were seen, the head is reminded this often to confirm receipt; the
    second reminder also tells the IT supervisor."""
    file_store_dir: str = "var/files"
    """Where uploaded files kept for cases live (db/stored_files.py), under generated names;
    outside the web root, served only through GET /api/files/{id}."""

    @field_validator("payload_keys", "credential_keys")
    @classmethod
    def _keys_parse(cls, value: str) -> str:
        for part in filter(None, value.split(",")):
            key_id, _, b64 = part.partition(":")
            if not key_id or len(base64.b64decode(b64)) != 32:
                raise ValueError("each payload key must be id:base64(32 bytes)")
        return value

    def encryption_keys(self) -> dict[str, bytes]:
        """Key id → 32-byte AES key; insertion order keeps the active key first."""
        return _keys(self.payload_keys)

    def vault_keys(self) -> dict[str, bytes]:
        """The keys of sealed credentials: CREDENTIAL_KEYS, else (development) PAYLOAD_KEYS."""
        return _keys(self.credential_keys or self.payload_keys)

    def weekend(self) -> frozenset[int]:
        return frozenset(int(d) for d in self.weekend_days.split(",") if d.strip())

    def require_secrets(self) -> None:
        """Refuse to run without the keys that protect personal data."""
        missing = [n for n in ("payload_keys", "secret_key") if not getattr(self, n)]
        if missing:
            raise RuntimeError(
                f"missing settings {', '.join(m.upper() for m in missing)}; "
                "run `make secrets` or set them in the environment"
            )


def _keys(text: str) -> dict[str, bytes]:
    keys: dict[str, bytes] = {}
    for part in filter(None, text.split(",")):
        key_id, _, b64 = part.partition(":")
        keys[key_id] = base64.b64decode(b64)
    return keys


@lru_cache
def get_settings() -> Settings:
    return Settings()
