"""A process is one plug-in: a `Process` declaration that every shared part reads.

The case store, the start and recovery of workflows, the cartable, the task, case and tracking
pages, the worker's registration and the search attributes know a process only through its
declaration. Adding one means its own modules (domain contract, workflow, activities, tables,
migration) and one line in `processes.registry`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy import Engine
from sqlmodel import Session, SQLModel

from domain.cases import ALL_SCOPES, CaseStart, Role
from domain.messages import Lang

if TYPE_CHECKING:
    from fastapi import APIRouter

    from activities.notifications import EmailSender, SmsGateway
    from settings import Settings
    from workflows.human_task import CaseWorkflow

F = TypeVar("F", bound=BaseModel)


@dataclass(frozen=True)
class Text:
    """A label in both languages of the product."""

    fa: str
    en: str

    def __call__(self, lang: Lang | str) -> str:
        return self.en if lang == Lang.en else self.fa


@dataclass(frozen=True)
class Requester:
    """Who a case is for, as its start form tells it."""

    name: str
    identity: str | None = None
    """The second factor of public tracking (national code, personnel number); None: a case
    followed by staff only."""
    contact: str | None = None
    """Where the answer goes: a mobile number or an e-mail address."""
    unit: str = ""


@dataclass(frozen=True)
class AnswerField:
    """A key of the case's closing detail shown as the answer on tracking and case pages."""

    key: str
    label: Text
    left_to_right: bool = False
    """Addresses, usernames, codes: shown left to right inside Persian text."""


@dataclass(frozen=True)
class WorkerResources:
    """What a process's activities are built from in the worker."""

    settings: Settings
    engine: Engine
    email: EmailSender
    sms: SmsGateway


ActivityFactory = Callable[[WorkerResources], Sequence[Callable[..., Any]]]


@dataclass(frozen=True)
class Process(Generic[F]):
    """Everything the shared parts need to know of one process."""

    kind: str
    """Stable key: stored on every case and task, the ProcessKind search attribute."""
    title: Text
    description: Text
    workflow: type[CaseWorkflow]
    workflow_input: type[CaseStart]
    """The workflow's start input: `CaseStart` plus the accepted `form`."""
    start_form: type[F]
    """What the requester fills in; validated before anything is written."""
    form_table: type[SQLModel]
    """Keeps the accepted form by `case_id`, with a column per form field, so a case whose
    workflow never started can always be started again."""
    requester: Callable[[F], Requester]
    activities: ActivityFactory
    workflow_id_prefix: str
    """Readable workflow ids in the Temporal UI: `{prefix}-{tracking code}`."""
    api_path: str
    """Where the start form is posted as JSON, e.g. `/api/email-requests`."""
    web_path: str
    """The start form's page, e.g. `/email/new`."""
    answer_working_days: int
    """The promise on the receipt: the final answer within this many working days."""
    child_workflows: tuple[type[CaseWorkflow], ...] = ()
    """Workflows its own workflow starts (a rollout's counties and sites): the worker hosts them and
    the replay test replays them; their tasks belong to the case."""
    starters: frozenset[Role] = frozenset()
    """Staff roles that may start a case; empty: anyone, from the public portal."""
    tables: tuple[type[SQLModel], ...] = ()
    """Every table of its own (the form table first); its migration creates them."""
    identity_field: str | None = None
    """The start form's field holding the requester's identity (the tracking second factor)."""
    one_open_case_per_requester: bool = False
    """A second request while one is open is refused (409 on the identity field)."""
    answer_fields: tuple[AnswerField, ...] = ()
    done_text: Text | None = None
    """What the requester reads above the answer fields once the case is done."""
    outcome_texts: Mapping[str, Text] = field(default_factory=dict)
    """What the requester reads for each of the process's own outcomes (beyond done, refused
    and cancelled), e.g. repaired in-house."""
    reveals_credentials: bool = False
    """The answer includes an initial password shown once on the tracking page; the login it
    belongs to is the first answer field."""
    labels: Mapping[str, Text] = field(default_factory=dict)
    """Labels of the form's fields, the task context's keys and their coded values
    (`affiliation.student`), shown on task and case pages; a decision field that reads
    differently in one step is labelled `step.field` (`inspect.reason`)."""
    receipt_steps: tuple[Text, ...] = ()
    """What happens next, as the receipt tells the requester."""
    form_template: str | None = None
    """A page of its own for the start form; None: rendered from the form's JSON schema."""
    case_scope: Callable[[F], str] | None = None
    """The scope a case belongs to (a hospital's): users holding that scope see the case, and
    a starter whose role is one of `scoped_starters` may start it only within its scopes."""
    scoped_starters: frozenset[Role] = frozenset()
    scope_field: str | None = None
    """The start form's field the case's scope is made of (the hospital's code): a start outside
    the starter's scopes is refused on that field."""
    starter_defaults: Callable[[Sequence[str]], Mapping[str, str]] | None = None
    """What the start form shows filled in for a starter holding these scopes (a hospital's IT
    unit: its hospital's code)."""
    overseers: frozenset[Role] = frozenset()
    """Roles that see every case of the process from its start (its office: the SEPAS experts),
    not only the cases whose tasks are theirs."""
    start_check: Callable[[Session, F], list[tuple[str, str]]] | None = None
    """Checks of the form against the records (a hospital in the register): (field, message
    code) for each problem; any refuses the start with 422, nothing written."""
    task_panels: Mapping[str, str] = field(default_factory=dict)
    """Step key → a template of its own shown on that step's task page beside the decision
    form (a county's site template and one-site form); its routes serve what it posts."""
    case_facts: Callable[[Session, int], dict[str, Any]] | None = None
    """What its own record says of a case, by case id, for the case page (keys labelled like a
    task's context): a SEPAS case's SRM errors by message, its verdict, its Jira issue."""
    routes: Callable[[], Sequence[APIRouter]] | None = None
    """Its own API routes and pages (registers, their admin pages); called by the API only, so
    the worker never imports them."""

    @property
    def public(self) -> bool:
        return not self.starters

    def may_start(self, roles: Sequence[str]) -> bool:
        return self.public or Role.admin in roles or bool(self.starters & set(roles))

    def may_start_in(self, roles: Sequence[str], scopes: Sequence[str], scope: str) -> bool:
        """Whether a starter with these roles and scopes may start a case of `scope`."""
        if Role.admin in roles or (self.starters - self.scoped_starters) & set(roles):
            return True
        return bool(self.scoped_starters & set(roles)) and (ALL_SCOPES in scopes or scope in scopes)

    def label(self, key: str, lang: Lang | str) -> str | None:
        text = self.labels.get(key)
        return text(lang) if text is not None else None


class UnknownProcess(KeyError):
    """A case or request names a process this installation does not run."""


class Registry:
    """The processes this installation runs, by kind; checked for clashes when built."""

    def __init__(self, processes: Sequence[Process[Any]]) -> None:
        self._by_kind: dict[str, Process[Any]] = {}
        for process in processes:
            for attribute in ("kind", "workflow_id_prefix", "api_path", "web_path"):
                value = getattr(process, attribute)
                clash = [p for p in self._by_kind.values() if getattr(p, attribute) == value]
                if clash:
                    raise ValueError(f"two processes share the {attribute} {value!r}")
            self._by_kind[process.kind] = process

    def __iter__(self) -> Iterator[Process[Any]]:
        return iter(self._by_kind.values())

    def __contains__(self, kind: object) -> bool:
        return kind in self._by_kind

    def __getitem__(self, kind: str) -> Process[Any]:
        try:
            return self._by_kind[kind]
        except KeyError:
            raise UnknownProcess(kind) from None

    @property
    def kinds(self) -> list[str]:
        return list(self._by_kind)

    def workflows(self) -> list[type[CaseWorkflow]]:
        return [w for p in self for w in (p.workflow, *p.child_workflows)]
