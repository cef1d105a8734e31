"""Tables of process 4 (the SHAMS rollout): the counties' health networks, their sites, and each
site's history. The rollout's board counts sites by county and state from here, not from
Temporal, so the indexes serve those counts.

Who sees what is said by scopes, as for the repair vendors: a `county_network` user's scope is
`county_scope(code)`; a `carrier` user's is `*` (the whole province) or `exchange_scope(area)`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Index, and_, false, or_, true
from sqlmodel import Field, SQLModel, col

from db.models import EnumText, UtcDateTime, utcnow
from domain.cases import ALL_SCOPES, Role
from domain.shams import CARRIER_STATES, LinkType, SiteKind, SiteState

COUNTY_SCOPE = "county:"
EXCHANGE_SCOPE = "exchange:"


def county_scope(code: str) -> str:
    """The scope of a county's users and of its tasks."""
    return f"{COUNTY_SCOPE}{code}"


def exchange_scope(area: str) -> str:
    """The scope of a carrier user who answers for one exchange area only."""
    return f"{EXCHANGE_SCOPE}{area}"


SITE_OFFICE_ROLES = frozenset({Role.admin, Role.it_office, Role.it_director})
"""They see every site of the university."""


@dataclass(frozen=True)
class SiteReach:
    """The sites a user may see: all of them, or a union of a county's and a carrier's share."""

    everything: bool = False
    counties: frozenset[str] | None = frozenset()
    """As a county network: these counties' sites (None: every county's)."""
    exchanges: frozenset[str] | None = frozenset()
    """As the carrier: the sites it was sent, in these exchange areas (None: the province)."""

    def sees_county(self, code: str) -> bool:
        """Every site of the county (a county user's own, an office user's any)."""
        return self.everything or self.counties is None or code in self.counties

    def sees(self, county_code: str, state: SiteState, exchange: str | None) -> bool:
        if self.sees_county(county_code):
            return True
        return state in CARRIER_STATES and (
            self.exchanges is None or (exchange is not None and exchange in self.exchanges)
        )


def site_reach(roles: Iterable[str], scopes: Iterable[str]) -> SiteReach:
    """What `roles` within `scopes` may see of the register."""
    held, within = set(roles), set(scopes)
    if held & SITE_OFFICE_ROLES:
        return SiteReach(everything=True)

    def scoped(prefix: str, role: Role) -> frozenset[str] | None:
        if role not in held:
            return frozenset()
        if ALL_SCOPES in within:
            return None
        return frozenset(s.removeprefix(prefix) for s in within if s.startswith(prefix))

    return SiteReach(
        counties=scoped(COUNTY_SCOPE, Role.county_network),
        exchanges=scoped(EXCHANGE_SCOPE, Role.carrier),
    )


class County(SQLModel, table=True):
    """شبکه بهداشت و درمان شهرستان: a county's health network and where its messages go."""

    __tablename__ = "counties"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, max_length=20)
    name: str = Field(max_length=200)
    contact_name: str = Field(default="", max_length=200)
    phone: str | None = Field(default=None, max_length=11)
    email: str | None = Field(default=None, max_length=200)
    mobile: str | None = Field(default=None, max_length=11)
    """Where its SMS reminders go."""
    active: bool = True
    created_at: datetime = Field(sa_type=UtcDateTime, default_factory=utcnow)
    updated_at: datetime = Field(sa_type=UtcDateTime, default_factory=utcnow)


class Site(SQLModel, table=True):
    """A site (نقطه) of a county's health network, and where it stands in the rollout."""

    __tablename__ = "sites"
    __table_args__ = (
        # The board: counts by county and state, for the university or one rollout; a county's
        # list by state; the carrier's sites by state.
        Index("ix_sites_county_state", "county_code", "state"),
        Index("ix_sites_rollout_county_state", "rollout_id", "county_code", "state"),
        Index("ix_sites_state_exchange", "state", "exchange"),
    )

    id: int | None = Field(default=None, primary_key=True)
    county_code: str = Field(foreign_key="counties.code", max_length=20)
    site_code: str = Field(unique=True, max_length=30)
    """Unique across the university: the SIAM id where known, else the county's code for it."""
    siam_id: str | None = Field(default=None, max_length=20, index=True)
    name: str = Field(max_length=200)
    kind: SiteKind = Field(sa_type=EnumText(SiteKind, 30))
    address: str = Field(max_length=500)
    postal_code: str | None = Field(default=None, max_length=10)
    phone: str | None = Field(default=None, max_length=11)
    latitude: float
    longitude: float
    link_type: LinkType = Field(sa_type=EnumText(LinkType, 20))
    """The link the county asked for."""
    state: SiteState = Field(default=SiteState.submitted, sa_type=EnumText(SiteState, 30))
    rollout_id: str | None = Field(default=None, max_length=40)
    """The rollout the site was last submitted in (the rollout's tracking code); None for a
    site entered outside any rollout."""
    exchange: str | None = Field(default=None, max_length=200)
    """The carrier's exchange (مرکز مخابراتی) serving the site, once ranged."""
    router_host: str | None = Field(default=None, max_length=253)
    """The address of the site's router that the connection check probes."""
    router_port: int | None = None
    created_at: datetime = Field(sa_type=UtcDateTime, default_factory=utcnow)
    updated_at: datetime = Field(sa_type=UtcDateTime, default_factory=utcnow)


class SiteEvent(SQLModel, table=True):
    """A line of a site's history: its state after the event, who did it, why."""

    __tablename__ = "site_events"
    __table_args__ = (
        Index("ix_site_events_site_at", "site_id", "at"),
        # The board's progress chart: the sites that reached each state, day by day.
        Index("ix_site_events_state_at", "state", "at", "site_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    site_id: int = Field(foreign_key="sites.id")
    at: datetime = Field(sa_type=UtcDateTime, default_factory=utcnow)
    state: SiteState = Field(sa_type=EnumText(SiteState, 30))
    actor: str = Field(max_length=64)
    """A username, or `system` for the workflow's own steps."""
    note: str | None = Field(default=None, max_length=2000)
    event_key: str | None = Field(default=None, unique=True, max_length=200)
    """Set by a workflow's activity, so that its retry writes the line once."""


def reach_filter(reach: SiteReach) -> ColumnElement[bool]:
    """`reach` as a condition on `sites`, for lists, counts and exports."""
    if reach.everything or reach.counties is None:
        return true()
    branches: list[ColumnElement[bool]] = []
    if reach.counties:
        branches.append(col(Site.county_code).in_(sorted(reach.counties)))
    sent = col(Site.state).in_(sorted(CARRIER_STATES))
    if reach.exchanges is None:
        branches.append(sent)
    elif reach.exchanges:
        branches.append(and_(sent, col(Site.exchange).in_(sorted(reach.exchanges))))
    return or_(false(), *branches)
