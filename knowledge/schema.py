"""The shape of the curated procedure data, as the YAML files under knowledge/ spell it.

Every model forbids unknown fields, so a typo in a field name is an error, not a silently
dropped fact. Field names are English; values are the Japanese a citizen reads.
"""
from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import Dict, List, Optional
from urllib.parse import urlparse

from pydantic import BaseModel, Field, root_validator, validator


class Strict(BaseModel):
    class Config:
        extra = "forbid"
        anystr_strip_whitespace = True


OFFICIAL_SUFFIXES = (".go.jp", ".lg.jp")
OFFICIAL_PREFIXES = ("city.", "town.", "vill.", "pref.", "www.city.", "www.town.",
                     "www.vill.", "www.pref.", "www1.city.", "www2.police.pref.")


def is_official_host(url: str) -> bool:
    """Government domains: ministries (go.jp), local governments (lg.jp, city.*.jp …)."""
    host = (urlparse(url).hostname or "").lower()
    if host.endswith(OFFICIAL_SUFFIXES):
        return True
    return host.endswith(".jp") and (
        host.startswith(OFFICIAL_PREFIXES) or ".city." in host or ".pref." in host
        or ".town." in host or ".vill." in host
    )


class Source(Strict):
    """An official page a fact was read on, and when it was last checked."""

    url: str
    title: str
    checked: dt.date

    @validator("url")
    def _url(cls, value: str) -> str:
        parsed = urlparse(value)
        if parsed.scheme not in ("http", "https") or not parsed.hostname or " " in value:
            raise ValueError(f"not a web address: {value!r}")
        return value


def _needs_official(cls: type, value: List[Source]) -> List[Source]:
    """A fact is stated only when an official page says it."""
    if not any(is_official_host(source.url) for source in value):
        raise ValueError("at least one source must be an official (government) page")
    return value


class Channel(str, Enum):
    """How a procedure can be done online, by the national channel that offers it."""

    mynaportal = "マイナポータル"
    pittari = "ぴったりサービス"
    hikkoshi_onestop = "引越しワンストップサービス"
    etax = "e-Tax"
    egov = "e-Gov"
    konbini = "コンビニ交付"
    other = "その他"
    none = "なし"


class OnlineStatus(str, Enum):
    yes = "できる"
    partial = "一部できる"
    municipality = "自治体による"
    no = "できない"
    unknown = "不明"


class Online(Strict):
    status: OnlineStatus
    channels: List[Channel] = []
    text: str
    caveats: List[str] = []

    @root_validator(skip_on_failure=True)
    def _channels_match_status(cls, values: Dict) -> Dict:
        online = values["status"] in (OnlineStatus.yes, OnlineStatus.partial,
                                      OnlineStatus.municipality)
        if online and not values["channels"]:
            raise ValueError("an online procedure must name its channel(s)")
        return values


class Document(Strict):
    name: str
    condition: Optional[str] = None


class Proxy(Strict):
    text: str
    documents: List[str] = []


class Counting(str, Enum):
    """How the period is counted from the event day."""

    next_day = "翌日から数える"  # 初日不算入: the event day is not day 1
    same_day = "当日を1日目として数える"  # 初日算入: the event day is day 1
    unknown = "数え方は未確認"  # the sources give no rule: count the earlier way


class Calendar(str, Enum):
    """Which days count as closed when a deadline moves off them."""

    municipal = "市区町村の閉庁日"  # 土日祝 and the new-year closure 12/29-1/3
    # 土日祝 only: whether the year-end days also count is not confirmed from an
    # official page, so the earlier (safe) date is given.
    national_tax = "国税の休日"


class DeadlineRule(Strict):
    """A machine-readable deadline: a period after an event, or a fixed yearly date."""

    event: Optional[str] = None
    days: Optional[int] = Field(None, gt=0)
    months: Optional[int] = Field(None, gt=0)
    counting: Optional[Counting] = None
    fixed_month: Optional[int] = Field(None, ge=1, le=12)
    fixed_day: Optional[int] = Field(None, ge=1, le=31)
    holiday_extension: bool = False
    calendar: Calendar = Calendar.municipal
    basis: str = Field(..., min_length=1)

    @root_validator(skip_on_failure=True)
    def _one_kind(cls, values: Dict) -> Dict:
        period = values["days"] is not None or values["months"] is not None
        fixed = values["fixed_month"] is not None
        if period == fixed:
            raise ValueError("give either days/months after an event or fixed_month/fixed_day")
        if values["days"] is not None and values["months"] is not None:
            raise ValueError("give days or months, not both")
        if period and (values["event"] is None or values["counting"] is None):
            raise ValueError("a period needs the event it counts from and the counting rule")
        if fixed and values["fixed_day"] is None:
            raise ValueError("fixed_month needs fixed_day")
        return values


class Deadline(Strict):
    text: str
    none: bool = False
    rule: Optional[DeadlineRule] = None
    late: Optional[str] = None

    @root_validator(skip_on_failure=True)
    def _none_has_no_rule(cls, values: Dict) -> Dict:
        if values["none"] and values["rule"] is not None:
            raise ValueError("a procedure with no deadline cannot have a deadline rule")
        return values


class Fee(Strict):
    text: str
    varies: bool = False


class Note(Strict):
    """A fact shown when the user's words contain one of its keywords."""

    text: str
    keywords: List[str] = Field(..., min_items=1)


class Procedure(Strict):
    id: str = Field(..., regex=r"^[a-z][a-z0-9_]*$")
    name: str
    reading: Optional[str] = None
    aliases: List[str] = Field(..., min_items=1)
    keywords: List[str] = []
    life_events: List[str] = []
    office: str
    department: str = Field(..., regex=r"^[a-z][a-z0-9_]*$")
    online: Online
    documents: List[Document] = []
    proxy: Optional[Proxy] = None
    deadline: Optional[Deadline] = None
    fee: Optional[Fee] = None
    notes: List[Note] = []
    related: List[str] = []
    sources: List[Source] = Field(..., min_items=1)

    _one_official = validator("sources", allow_reuse=True)(_needs_official)


class ProcedureFile(Strict):
    procedures: List[Procedure] = Field(..., min_items=1)


class LifeEvent(Strict):
    id: str = Field(..., regex=r"^[a-z][a-z0-9_]*$")
    name: str
    keywords: List[str] = Field(..., min_items=1)
    intro: str
    # Procedures whose deadline rule counts from the day of this event itself, so a
    # date given with the event ("3月3日に引っ越しました") can be turned into due dates.
    deadline_procedures: List[str] = []


class LifeEventFile(Strict):
    life_events: List[LifeEvent]


class Override(Strict):
    """A municipality's own value for one procedure; every field optional."""

    office: Optional[str] = None
    hours: Optional[str] = None
    phone: Optional[str] = None
    fee: Optional[str] = None
    online: Optional[str] = None
    url: Optional[str] = None


class Municipality(Strict):
    id: str = Field(..., regex=r"^[a-z][a-z0-9_]*$")
    name: str
    sample: bool
    contact: str
    phone: Optional[str] = None
    hours: Optional[str] = None
    url: Optional[str] = None
    pittari: List[str] = []
    overrides: Dict[str, Override] = {}
    departments: Dict[str, "LocalDepartment"] = {}


class Scope(str, Enum):
    """Whether a rule is the same everywhere or differs by municipality."""

    national = "national"  # 全国共通
    local = "local"  # 市区町村によって異なる


class QaEntry(Strict):
    """One specific question citizens ask, with its short sourced answer.

    Attached to a procedure, or to a department for topics with no procedure. Served only
    between ``valid_from`` and ``valid_until`` (inclusive), so a rule that changed is
    answered by today's date.
    """

    id: str = Field(..., regex=r"^[a-z][a-z0-9_]*$")
    procedure: Optional[str] = None
    department: Optional[str] = None
    question: str = Field(..., min_length=4)
    paraphrases: List[str] = Field(..., min_items=1)
    answer: List[str] = Field(..., min_items=1)
    basis: Optional[str] = None
    scope: Scope
    valid_from: Optional[dt.date] = None
    valid_until: Optional[dt.date] = None
    sources: List[Source] = Field(..., min_items=1)

    @validator("answer", each_item=True)
    def _line(cls, value: str) -> str:
        if not value or "\n" in value:
            raise ValueError("each answer line is one non-empty line")
        return value

    _one_official = validator("sources", allow_reuse=True)(_needs_official)

    @root_validator(skip_on_failure=True)
    def _attached_and_dated(cls, values: Dict) -> Dict:
        if (values["procedure"] is None) == (values["department"] is None):
            raise ValueError("an entry belongs to exactly one of: procedure, department")
        start, end = values["valid_from"], values["valid_until"]
        if start and end and end < start:
            raise ValueError(f"valid_until {end} is before valid_from {start}")
        return values

    def valid_on(self, day: dt.date) -> bool:
        return ((self.valid_from is None or self.valid_from <= day)
                and (self.valid_until is None or day <= self.valid_until))


class QaFile(Strict):
    entries: List[QaEntry] = Field(..., min_items=1)


class Department(Strict):
    """A department by its typical name, the procedures it handles, and the words of the
    services it handles that the knowledge base has no procedure for yet."""

    id: str = Field(..., regex=r"^[a-z][a-z0-9_]*$")
    name: str
    # A national office (税務署, 年金事務所 …), not a municipal department.
    national: bool = False
    contact: Optional[str] = None  # how to reach a national office
    services: List[str] = []


class DepartmentFile(Strict):
    departments: List[Department] = Field(..., min_items=1)


class LocalDepartment(Strict):
    """A municipality's own name and contact for one department."""

    name: str
    phone: Optional[str] = None
    hours: Optional[str] = None
    url: Optional[str] = None


Municipality.update_forward_refs()


class CalibrationQuestion(Strict):
    """A question written apart from the entries, and the entry that answers it (None:
    a specific question no entry answers), to calibrate the Q&A matcher on."""

    text: str = Field(..., min_length=2)
    entry: Optional[str]


class CalibrationFile(Strict):
    queries: List[CalibrationQuestion] = Field(..., min_items=1)
