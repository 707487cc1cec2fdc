"""Answering a SensorThings request: a resource path plus ``$top $skip $orderby $count $select $expand
$filter``, as one parameterised SQL query per entity set (and one per expanded navigation)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import psycopg

from api.sta.entities import ENTITIES, Entity, Link
from api.sta.filter import Compiled, FilterError, compile_filter

DEFAULT_TOP = 100
MAX_TOP = 1000
MAX_SKIP = 10_000_000
EXPAND_TOP = 100  # rows per parent in an expanded collection
_SEGMENT = re.compile(r"^(?P<name>[A-Za-z]+)(?:\((?P<id>'(?:[^']|'')*'|\d+)\))?$")


class StaError(ValueError):
    """A request this subset cannot answer: ``status`` 400 (bad option) or 404 (no such entity)."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.field = status, field


@dataclass(frozen=True)
class Options:
    top: int = DEFAULT_TOP
    skip: int = 0
    count: bool = False
    orderby: list[tuple[str, bool]] = field(default_factory=list)  # (property, descending)
    select: list[str] = field(default_factory=list)
    expand: list[str] = field(default_factory=list)
    filter: str | None = None


def parse_options(params: dict[str, str]) -> Options:
    """The system query options; unknown ``$`` options are refused rather than ignored."""
    known = {"$top", "$skip", "$count", "$orderby", "$select", "$expand", "$filter", "$resultFormat"}
    for name in params:
        if name.startswith("$") and name not in known:
            raise StaError(400, f"{name}: not supported here", name)

    def number(name: str, default: int, most: int) -> int:
        text = params.get(name)
        if text is None:
            return default
        if not text.isdigit() or int(text) > most:
            raise StaError(400, f"{name}: a whole number from 0 to {most}", name)
        return int(text)

    count = params.get("$count", "false")
    if count not in ("true", "false"):
        raise StaError(400, "$count: true or false", "$count")
    orderby = []
    for item in _split(params.get("$orderby")):
        name, _, direction = item.partition(" ")
        direction = direction.strip().lower()  # OData says lower case; FROST and its client send ASC / DESC
        if direction not in ("", "asc", "desc"):
            raise StaError(400, f"$orderby: {item!r}: asc or desc", "$orderby")
        orderby.append((name.strip(), direction == "desc"))
    return Options(number("$top", DEFAULT_TOP, MAX_TOP), number("$skip", 0, MAX_SKIP), count == "true", orderby,
                   _split(params.get("$select")), _split(params.get("$expand")), params.get("$filter"))  # fmt: skip


def _split(value: str | None) -> list[str]:
    return [] if not value else [part.strip() for part in value.split(",") if part.strip()]


@dataclass(frozen=True)
class Target:
    """What a path names: an entity set, optionally narrowed to one id or reached through a parent."""

    entity: Entity
    key: str | None = None  # one entity by id
    parent: tuple[Entity, str, Link] | None = None  # reached through a navigation property


def resolve(path: str) -> Target:
    """``Things``, ``Things('x')``, ``Datastreams(5)/Observations``, ``Datastreams(5)/Thing`` ..."""
    segments = [s for s in path.strip("/").split("/") if s]
    if not segments or len(segments) > 2:
        raise StaError(404, f"no resource {path!r} in this SensorThings subset")
    first = _SEGMENT.match(segments[0])
    if first is None or first.group("name") not in ENTITIES:
        raise StaError(404, f"no entity set {segments[0]!r}")
    raw_id = first.group("id")
    entity, key = ENTITIES[first.group("name")], _key(raw_id)
    if raw_id is not None and entity.text_id != raw_id.startswith("'"):
        raise StaError(404, f"{entity.plural} ids are {'quoted strings' if entity.text_id else 'numbers'}")
    if len(segments) == 1:
        return Target(entity, key)
    link = entity.links.get(segments[1])
    if key is None or link is None:
        raise StaError(404, f"no navigation {segments[1]!r} from {entity.plural}")
    return Target(ENTITIES[link.target], None, (entity, key, link))


def _key(raw: str | None) -> str | None:
    if raw is None:
        return None
    return raw[1:-1].replace("''", "'") if raw.startswith("'") else raw


def _key_condition(entity: Entity, key: str) -> Compiled:
    if entity.key_lookup is not None:
        parts = key.split("-")
        if len(parts) != 2 or not all(p.lstrip("-").isdigit() for p in parts):
            raise StaError(404, f"no {entity.singular} {key!r}")
        return Compiled(f"({entity.key_lookup})", [int(parts[0]), int(parts[1])])
    return Compiled(f"({entity.key} = %s)", [key if entity.text_id else int(key)])


def _order(entity: Entity, options: Options) -> str:
    terms = []
    for name, descending in options.orderby:
        if name not in entity.fields:
            raise StaError(400, f"$orderby: unknown property {name!r}", "$orderby")
        terms.append(f"{entity.fields[name].sql} {'DESC' if descending else 'ASC'}")
    return ", ".join([*terms, entity.default_order])


def _select_list(entity: Entity) -> str:
    columns = [f'{entity.key} AS "@iot.id"']
    columns += [f'{sql} AS "{name}"' for name, sql in entity.columns.items()]
    columns += [f'{sql} AS "_{name}"' for name, sql in entity.hidden.items()]
    return ", ".join(columns)


def _fetch(conn: psycopg.Connection, entity: Entity, where: list[Compiled], order: str, limit: int,
           offset: int) -> list[dict[str, Any]]:  # fmt: skip
    condition = " AND ".join(w.sql for w in where) or "true"
    params = [p for w in where for p in w.params]
    query = f"SELECT {_select_list(entity)} FROM {entity.source} WHERE {condition} ORDER BY {order} LIMIT %s OFFSET %s"
    with conn.cursor() as cur:
        cur.execute(query.encode(), [*params, limit, offset])
        names = [d.name for d in cur.description or []]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _count(conn: psycopg.Connection, entity: Entity, where: list[Compiled]) -> int:
    condition = " AND ".join(w.sql for w in where) or "true"
    row = conn.execute(f"SELECT count(*) FROM {entity.source} WHERE {condition}".encode(),
                       [p for w in where for p in w.params]).fetchone()  # fmt: skip
    return int(row[0]) if row else 0


class Answer:
    """Builds STA JSON (``@iot.id``, ``@iot.selfLink``, navigation links) for rows of one entity."""

    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")

    def link(self, entity: Entity, key: Any) -> str:
        return f"{self.base}/{entity.plural}({key!r})" if entity.text_id else f"{self.base}/{entity.plural}({key})"

    def shape(self, entity: Entity, row: dict[str, Any], select: list[str]) -> dict[str, Any]:
        key = row["@iot.id"]
        out: dict[str, Any] = {"@iot.id": key if entity.text_id else int(key),
                               "@iot.selfLink": self.link(entity, key)}  # fmt: skip
        for name in entity.columns:
            if not select or name in select:
                out[name] = row[name]
        if not select:
            for name in entity.links:
                out[f"{name}@iot.navigationLink"] = f"{self.link(entity, key)}/{name}"
        if select and "id" not in select and "@iot.id" not in select:
            del out["@iot.id"]
        return out


def answer(conn: psycopg.Connection, path: str, params: dict[str, str], base: str) -> dict[str, Any]:
    """The JSON body for ``GET {base}/{path}?{params}``; raises StaError (400 / 404)."""
    target = resolve(path)
    options = parse_options(params)
    entity = target.entity
    for name in options.select:
        if name not in entity.columns and name not in ("id", "@iot.id"):
            raise StaError(400, f"$select: unknown property {name!r}", "$select")
    for name in options.expand:
        if name not in entity.links:
            raise StaError(400, f"$expand: {entity.plural} have no navigation {name!r}", "$expand")
    where: list[Compiled] = []
    if options.filter is not None:
        try:
            where.append(compile_filter(options.filter, entity.fields))
        except FilterError as error:
            raise StaError(400, str(error), "$filter") from error
    single = target.key is not None
    if target.key is not None:
        where.append(_key_condition(entity, target.key))
    if target.parent is not None:
        parent, parent_key, link = target.parent
        single = not link.many
        if link.many:
            assert link.target_link is not None
            where.append(Compiled(f"({link.target_link} = %s)", [parent_key if parent.text_id else int(parent_key)]))
        else:
            found = _fetch(conn, parent, [_key_condition(parent, parent_key)], parent.default_order, 1, 0)
            if not found:
                raise StaError(404, f"no {parent.singular} {parent_key!r}")
            where.append(_key_condition(entity, str(found[0][f"_{link.parent_fk}"])))
    shaper = Answer(base)
    if single:
        rows = _fetch(conn, entity, where, entity.default_order, 1, 0)
        if not rows:
            raise StaError(404, f"no such {entity.singular}")
        one = shaper.shape(entity, rows[0], options.select)
        _expand(conn, entity, rows, [one], options.expand, shaper)
        return one
    rows = _fetch(conn, entity, where, _order(entity, options), options.top + 1, options.skip)
    more = len(rows) > options.top
    rows = rows[: options.top]
    values = [shaper.shape(entity, row, options.select) for row in rows]
    _expand(conn, entity, rows, values, options.expand, shaper)
    body: dict[str, Any] = {}
    if options.count:
        body["@iot.count"] = _count(conn, entity, where)
    body["value"] = values
    if more:
        following = {**params, "$skip": str(options.skip + options.top), "$top": str(options.top)}
        body["@iot.nextLink"] = f"{shaper.base}/{path.strip('/')}?{urlencode(following)}"
    return body


def _expand(conn: psycopg.Connection, entity: Entity, rows: list[dict[str, Any]], out: list[dict[str, Any]],
            names: list[str], shaper: Answer) -> None:  # fmt: skip
    """Embed each named navigation: one query per navigation for all the rows at once."""
    for name in names:
        link = entity.links[name]
        target = ENTITIES[link.target]
        if link.many:
            assert link.target_link is not None
            keys = [row["@iot.id"] if entity.text_id else int(row["@iot.id"]) for row in rows]
            ranked = (f"SELECT * FROM (SELECT {_select_list(target)}, {link.target_link} AS _parent, "
                      f"row_number() OVER (PARTITION BY {link.target_link} ORDER BY {target.default_order}) AS _rank "
                      f"FROM {target.source} WHERE {link.target_link} = ANY(%s)) ranked WHERE _rank <= %s")  # fmt: skip
            with conn.cursor() as cur:
                cur.execute(ranked.encode(), [keys, EXPAND_TOP])
                columns = [d.name for d in cur.description or []]
                found = [dict(zip(columns, row, strict=True)) for row in cur.fetchall()]
            for row, body in zip(rows, out, strict=True):
                mine = [f for f in found if str(f["_parent"]) == str(row["@iot.id"])]
                body[name] = [shaper.shape(target, f, []) for f in mine]
        else:
            fks = sorted({str(row[f"_{link.parent_fk}"]) for row in rows})
            matched = {}
            for fk in fks:
                got = _fetch(conn, target, [_key_condition(target, fk)], target.default_order, 1, 0)
                if got:
                    matched[fk] = shaper.shape(target, got[0], [])
            for row, body in zip(rows, out, strict=True):
                body[name] = matched.get(str(row[f"_{link.parent_fk}"]))
