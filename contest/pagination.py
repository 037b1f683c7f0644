"""Lists a page at a time, and the query parameters that choose the page and filter the rows.

Every organiser list reads ``?page=N`` (and the API ``?per_page=``, at most ``MAX_PAGE_SIZE``)
through ``page_request``, runs its query through ``paginate`` and shows ``templates/_pager.html``.
The rule is the same everywhere: a page number or a filter that cannot be read (``page=abc``,
``page=0``, ``status=bogus``) is refused with 400 and a message in the visitor's language; a
page number past the end shows the last page (of a list too long to count, an empty page with
a link back), so a link kept while rows were removed still lands somewhere. Paging reaches the
first ``MAX_PAGED_ROWS`` rows of a list: a page beyond them is empty, read from no row, and it
and the last page that paging reaches say that the filters show the rest. A filter
naming a row that does not exist simply matches nothing.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from contest.db import MAX_ROW_ID
from contest.errors import ContestError
from contest.i18n import gettext
from contest.tokens import normalize_receipt_code

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
MAX_PAGE = 1_000_000
MAX_SEARCH = 100
# Lists count their rows up to this many; a longer list shows "page N" and a next link. A
# count reads every row it counts, through the list's joins: 10,000 rows took 30 ms of a
# national contest's results page, 1,000 take 3.
COUNT_CAP = 1_000
# A list pages through its first MAX_PAGED_ROWS rows; past them, its filters narrow it. Paging
# by offset reads every row it skips: at 1,000,000 entries the entries list took 156 ms at row
# 10,000 and 3 s for a page number past its end.
MAX_PAGED_ROWS = 10_000

T = TypeVar("T")
U = TypeVar("U")
E = TypeVar("E", bound=enum.Enum)


class QueryRefusedError(ContestError):
    """A page number or a filter in the address that cannot be read; nothing is looked up."""

    status_code = 400


@dataclass(frozen=True)
class PageRequest:
    number: int = 1
    size: int = PAGE_SIZE


@dataclass
class Page(Generic[T]):
    """One page of a list. ``total`` is None for a list too long to count at every visit (more
    than COUNT_CAP rows, or the audit log): it then knows only whether another page follows."""

    items: list[T]
    number: int
    size: int
    total: int | None
    more: bool = False

    @property
    def pages(self) -> int | None:
        if self.total is None:
            return None
        return max(1, math.ceil(self.total / self.size))

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def reachable(self) -> int:
        """The last page that paging reaches (MAX_PAGED_ROWS)."""
        return reachable_pages(self.size)

    @property
    def has_next(self) -> bool:
        if self.number >= self.reachable:
            return False
        return self.more if self.pages is None else self.number < self.pages

    @property
    def cut_short(self) -> bool:
        """Rows follow that paging does not reach: only the filters show them."""
        if self.number < self.reachable:
            return False
        if self.number > self.reachable:
            return True
        return self.more if self.pages is None else self.number < self.pages

    @property
    def previous(self) -> int:
        """The page the previous link leads to: from beyond the reach, the last one reached."""
        return min(self.number - 1, self.reachable)

    def replace(self, items: list[U]) -> Page[U]:
        """The same page holding other items (rows made into the caller's objects)."""
        return Page(items, self.number, self.size, self.total, self.more)

    def json(self) -> dict[str, int | None]:
        """The page's place, as the API states it beside the items."""
        return {
            "page": self.number,
            "per_page": self.size,
            "pages": self.pages,
            "total": self.total,
        }


def reachable_pages(size: int) -> int:
    return max(1, MAX_PAGED_ROWS // size)


def _whole_number(raw: str) -> int | None:
    raw = raw.strip()
    if raw.isascii() and raw.isdigit() and len(raw) <= len(str(MAX_ROW_ID)):
        return int(raw)
    return None


def page_request(
    params: Mapping[str, str], *, name: str = "page", size: int = PAGE_SIZE
) -> PageRequest:
    """``?page=`` (and ``?per_page=``) as a PageRequest; QueryRefusedError when unreadable."""
    number = _whole_number(params.get(name, "1"))
    if number is None or not 1 <= number <= MAX_PAGE:
        raise QueryRefusedError(gettext("The page number must be a whole number from 1."))
    if "per_page" in params:
        per_page = _whole_number(params["per_page"])
        if per_page is None or not 1 <= per_page <= MAX_PAGE_SIZE:
            raise QueryRefusedError(
                gettext("Ask for 1 to %(count)s rows a page.", count=MAX_PAGE_SIZE)
            )
        size = per_page
    return PageRequest(number, size)


def _refused_filter() -> QueryRefusedError:
    return QueryRefusedError(gettext("This filter cannot be read. Choose one of the options."))


def id_filter(params: Mapping[str, str], name: str) -> int | None:
    """An id filter (``?division=7``); None when absent or empty."""
    raw = params.get(name, "")
    if not raw.strip():
        return None
    value = _whole_number(raw)
    if value is None or not 1 <= value <= MAX_ROW_ID:
        raise _refused_filter()
    return value


def choice_filter(params: Mapping[str, str], name: str, choices: type[E]) -> E | None:
    """A filter among an enum's values (``?status=submitted``); None when absent or empty."""
    raw = params.get(name, "").strip()
    if not raw:
        return None
    for choice in choices:
        if choice.value == raw:
            return choice
    raise _refused_filter()


def flag_filter(params: Mapping[str, str], name: str) -> bool:
    """A yes/no filter (``?flagged=1``): absent or empty is no."""
    raw = params.get(name, "").strip()
    if raw in ("", "0"):
        return False
    if raw == "1":
        return True
    raise _refused_filter()


def search_text(params: Mapping[str, str], name: str = "q") -> str:
    """Free text to search by (names, e-mail addresses), stripped; refused when too long."""
    raw = params.get(name, "").strip()
    if len(raw) > MAX_SEARCH:
        raise QueryRefusedError(
            gettext("Search with at most %(count)s characters.", count=MAX_SEARCH)
        )
    return raw


def receipt_filter(params: Mapping[str, str], name: str = "receipt") -> str | None:
    """A receipt code as a person types it, in its stored form; None when absent."""
    raw = search_text(params, name)
    return normalize_receipt_code(raw) if raw else None


def where_given(
    query: Select[*tuple[Any, ...]], *conditions: tuple[Any, object | None]
) -> Select[*tuple[Any, ...]]:
    """The query narrowed to ``column == value`` for each (column, value) whose value is given
    (not None): a list's optional filters."""
    for column, value in conditions:
        if value is not None:
            query = query.where(column == value)
    return query


async def paginate(
    session: AsyncSession,
    query: Select[*tuple[Any, ...]],
    request: PageRequest,
    *,
    counted: bool = True,
    total: int | None = None,
) -> Page[Sequence[Any]]:
    """One page of an ordered query's rows. The rows are counted up to COUNT_CAP (so that a
    count never reads a national table whole), unless the caller knows their ``total`` (from a
    tally); past that, or when not ``counted``, the page knows only whether another follows
    (one row more is read). A page past the end of a counted list is its last page; a page
    past the first MAX_PAGED_ROWS rows is empty, and no row is read for it."""
    number = request.number
    if total is not None:
        number = min(number, max(1, math.ceil(total / request.size)))
    elif counted:
        capped = query.order_by(None).limit(COUNT_CAP + 1).subquery()
        found = int(await session.scalar(select(func.count()).select_from(capped)) or 0)
        if found <= COUNT_CAP:
            total = found
            number = min(number, max(1, math.ceil(total / request.size)))
    if number > reachable_pages(request.size):
        return Page([], number, request.size, total)
    offset = (number - 1) * request.size
    rows = (await session.execute(query.limit(request.size + 1).offset(offset))).all()
    items: list[Sequence[Any]] = [tuple(row) for row in rows[: request.size]]
    return Page(items, number, request.size, total, len(rows) > request.size)
