"""OGC SensorThings ``$filter`` expressions: parsed by a grammar (lark, LALR), compiled to SQL with every
literal bound as a parameter. Property names are looked up in the entity's whitelist, so nothing a
client writes is ever spliced into SQL text.

Supported (STA v1.1 §9.3.3.5 subset): ``eq ne gt ge lt le``, ``and or not``, parentheses, numbers,
'strings', ISO 8601 times (``phenomenonTime ge 2026-12-01T00:00:00Z``), ``true false null``, and
navigation paths such as ``Datastream/id``.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lark import Lark, Token, Transformer, Tree
from lark.exceptions import LarkError, VisitError

GRAMMAR = r"""
?start: or_expr
?or_expr: and_expr ("or" and_expr)*
?and_expr: not_expr ("and" not_expr)*
?not_expr: "not" not_expr -> negation
         | comparison
         | "(" or_expr ")"
comparison: operand OPERATOR operand
?operand: path | literal
path: NAME ("/" NAME)*
literal: DATETIME -> time
       | NUMBER -> number
       | STRING -> text
       | "true" -> true
       | "false" -> false
       | "null" -> null
OPERATOR.2: /\b(eq|ne|gt|ge|lt|le)\b/
DATETIME.3: /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})/
NUMBER: /-?\d+(\.\d+)?([eE][+-]?\d+)?/
STRING: /'([^']|'')*'/
NAME: /[A-Za-z_@][A-Za-z0-9_.@]*/
%ignore /\s+/
"""
_SQL_OPERATORS = {"eq": "=", "ne": "<>", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}


class FilterError(ValueError):
    """The expression is not valid STA $filter for this entity (the message says where)."""


class FieldType(enum.Enum):
    NUMBER = "number"
    TEXT = "text"
    TIME = "time"


@dataclass(frozen=True)
class Field:
    sql: str  # a trusted SQL expression over the entity's FROM clause
    type: FieldType


@dataclass(frozen=True)
class Compiled:
    sql: str  # with %s placeholders
    params: list[Any]


@functools.cache
def _parser() -> Lark:
    return Lark(GRAMMAR, parser="lalr", maybe_placeholders=False)


@dataclass(frozen=True)
class _Literal:
    value: Any
    type: FieldType | None  # None: null


class _Compiler(Transformer[Token, Compiled]):
    def __init__(self, fields: Mapping[str, Field]) -> None:
        super().__init__()
        self.fields = fields

    def path(self, names: list[Token]) -> Field:
        name = "/".join(str(n) for n in names)
        if name not in self.fields:
            raise FilterError(f"$filter: unknown property {name!r}; known: {', '.join(sorted(self.fields))}")
        return self.fields[name]

    def time(self, items: list[Token]) -> _Literal:
        return _Literal(datetime.fromisoformat(str(items[0]).replace("Z", "+00:00")), FieldType.TIME)

    def number(self, items: list[Token]) -> _Literal:
        text = str(items[0])
        return _Literal(float(text) if any(c in text for c in ".eE") else int(text), FieldType.NUMBER)

    def text(self, items: list[Token]) -> _Literal:
        return _Literal(str(items[0])[1:-1].replace("''", "'"), FieldType.TEXT)

    def true(self, _: list[Token]) -> _Literal:
        return _Literal(True, None)

    def false(self, _: list[Token]) -> _Literal:
        return _Literal(False, None)

    def null(self, _: list[Token]) -> _Literal:
        return _Literal(None, None)

    def comparison(self, items: list[Any]) -> Compiled:
        left, operator, right = items
        if isinstance(left, _Literal) and isinstance(right, Field):
            left, right = right, left
            operator = {"gt": "lt", "lt": "gt", "ge": "le", "le": "ge"}.get(str(operator), str(operator))
        if not isinstance(left, Field):
            raise FilterError("$filter: a comparison needs a property on one side")
        op = str(operator)
        if isinstance(right, Field):
            return Compiled(f"({left.sql} {_SQL_OPERATORS[op]} {right.sql})", [])
        if right.value is None:
            if op not in ("eq", "ne"):
                raise FilterError("$filter: null compares only with eq / ne")
            return Compiled(f"({left.sql} IS {'' if op == 'eq' else 'NOT '}NULL)", [])
        if right.type is not None and right.type != left.type:
            raise FilterError(f"$filter: cannot compare a {left.type.value} property with a {right.type.value}")
        return Compiled(f"({left.sql} {_SQL_OPERATORS[op]} %s)", [right.value])

    def and_expr(self, items: list[Compiled]) -> Compiled:
        return Compiled("(" + " AND ".join(i.sql for i in items) + ")", [p for i in items for p in i.params])

    def or_expr(self, items: list[Compiled]) -> Compiled:
        return Compiled("(" + " OR ".join(i.sql for i in items) + ")", [p for i in items for p in i.params])

    def negation(self, items: list[Compiled]) -> Compiled:
        return Compiled(f"(NOT {items[0].sql})", items[0].params)


def compile_filter(text: str, fields: Mapping[str, Field]) -> Compiled:
    """SQL for ``text`` over the entity whose filterable properties are ``fields``; raises FilterError."""
    try:
        tree = _parser().parse(text)
        result = _Compiler(fields).transform(tree)
    except VisitError as error:
        if isinstance(error.orig_exc, FilterError | ValueError):
            raise FilterError(str(error.orig_exc)) from error
        raise
    except LarkError as error:
        raise FilterError(f"$filter: cannot parse: {str(error).splitlines()[0]}") from error
    except RecursionError as error:
        raise FilterError("$filter: nested too deeply") from error
    if isinstance(result, Field | _Literal | Tree):
        raise FilterError("$filter: the expression must be a comparison or a combination of them")
    return result
