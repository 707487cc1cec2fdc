"""Query-parameter helpers shared by routes: comma lists of a closed vocabulary, paging limits."""

from __future__ import annotations

import enum
from typing import TypeVar

from fastapi import Query

from api.http.errors import ApiError

E = TypeVar("E", bound=enum.Enum)
MAX_PAGE = 1000
Limit = Query(100, ge=1, le=MAX_PAGE, description="page size")
Cursor = Query(None, max_length=200, description="next_cursor of the previous page")


def comma_list(value: str | None, vocabulary: type[E], field: str) -> tuple[E, ...]:
    """``"a,b"`` as members of ``vocabulary`` (empty: none given); an unknown word is a 422 naming it."""
    if value is None or not value.strip():
        return ()
    members = {m.value: m for m in vocabulary}
    chosen = []
    for word in (w.strip() for w in value.split(",")):
        if word not in members:
            raise ApiError(422, "invalid", f"{field}: {word!r} is not one of {', '.join(members)}", field)
        chosen.append(members[word])
    return tuple(dict.fromkeys(chosen))


def words(value: str | None) -> tuple[str, ...]:
    """A comma list of free words (rule names, kinds)."""
    return () if value is None else tuple(w.strip() for w in value.split(",") if w.strip())
