"""What the review office's long tables share (参评科室, 短信发件箱, 网络评价的评价人):
the filters a page's GET form sends, read from the query string; the page asked for,
kept within the pages there are; and what the pager's links carry along, so that
paging keeps the filters (templates/_macros.html `pager`).

A filter value that names nothing the page offers (a status that is not one, a unit
of another year or, for a liaison, of another unit, text where a number belongs) is
left out: the list shows as if it had not been given, the form shows "全部" where it
was, and a line above the list names the parameter, so that an old bookmark still
opens and nobody mistakes the list for the filtered one. A page past the end is the
last page. (A page whose `page` is read by common.query_number, the online round's,
answers 400 for a `page` that is not a number, as it did before it had filters.)
"""
from __future__ import annotations

import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import TypeVar

from flask import request

from voting.core.numbers import whole_number

T = TypeVar("T")
SEARCH_MAX = 50  # characters of a search box kept: longer text names nothing anyway
SHOWN_MAX = 20  # characters of a bad value repeated on the page


@dataclass(frozen=True)
class Page:
    """Where a list is: page `number` (from 1) of `pages`, `size` rows a page, `total` in all."""

    number: int
    size: int
    total: int

    @property
    def pages(self) -> int:
        return max(math.ceil(self.total / self.size), 1)

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size


def paged(fetch: Callable[[int, int], tuple[Sequence[T], int]], size: int, asked: int) -> tuple[Sequence[T], Page]:
    """The rows of page `asked` of a list, from `fetch(limit, offset)` -> (rows, total):
    asked past the end, the last page (fetched again, which only such a request pays)."""
    number = max(asked, 1)
    rows, total = fetch(size, (number - 1) * size)
    page = Page(number, size, total)
    if number > page.pages:
        page = Page(page.pages, size, total)
        rows, _ = fetch(size, page.offset)
    return rows, page


def sliced(rows: Sequence[T]) -> Callable[[int, int], tuple[Sequence[T], int]]:
    """`paged`'s fetch for a list already in memory (363 sections)."""
    return lambda limit, offset: (rows[offset:offset + limit], len(rows))


class QueryFilters:
    """One list's filters, read from the query string. Each reader returns the value to
    apply ("" or None: all) and remembers it in `keep` (the pager's links, the page's
    own links back to the list); a value it leaves out goes to `ignored`, the lines
    the page shows."""

    def __init__(self) -> None:
        self.keep: dict[str, str | int] = {}
        self.ignored: list[str] = []

    def text(self, name: str) -> str:
        """A search box: its words, single-spaced, at most SEARCH_MAX characters."""
        value = " ".join(request.args.get(name, "").split())[:SEARCH_MAX]
        if value:
            self.keep[name] = value
        return value

    def choice(self, name: str, choices: Collection[str]) -> str:
        """One of `choices` (a select's values), or "" for all."""
        value = request.args.get(name, "")
        if value == "":
            return ""
        if value not in choices:
            return self._ignore(name, value, "")
        self.keep[name] = value
        return value

    def number(self, name: str, choices: Collection[int] | None = None) -> int | None:
        """A whole number (voting.core.numbers), one of `choices` when given (a select's
        ids), or None for all."""
        text = request.args.get(name, "")
        if text == "":
            return None
        value = whole_number(text)
        if value is None or (choices is not None and value not in choices):
            return self._ignore(name, text, None)
        self.keep[name] = value
        return value

    def page(self) -> int:
        """The page asked for (`page`; 1 when absent or not a number). Not kept: the
        pager's links name their own page."""
        text = request.args.get("page", "")
        asked = whole_number(text)
        if asked is None and text != "":
            self._ignore("page", text, None, "显示第一页")
        return asked or 1

    def _ignore(self, name: str, value: str, all_: T, instead: str = "按“全部”显示") -> T:
        shown = value if len(value) <= SHOWN_MAX else value[:SHOWN_MAX] + "…"
        self.ignored.append(f"地址中的参数 {name}（“{shown}”）不是本页可选的值，已忽略，{instead}。")
        return all_
