from __future__ import annotations

from ingest import broker_auth


def test_password_hash_round_trip_and_format() -> None:
    hashed = broker_auth.hash_password("s3cret")
    assert hashed.startswith("$7$101$")
    assert broker_auth.verify_password("s3cret", hashed)
    assert not broker_auth.verify_password("s3cret!", hashed)


def test_password_file_round_trip() -> None:
    text = broker_auth.render_password_file({"dev-02": "$7$b", "svc.ingest": "$7$a"})
    assert text == "dev-02:$7$b\nsvc.ingest:$7$a\n"
    assert broker_auth.parse_password_file(text) == {"dev-02": "$7$b", "svc.ingest": "$7$a"}


def test_acl_confines_devices_to_their_own_topics() -> None:
    acl = broker_auth.render_acl()
    assert "pattern write urbanpulse/v1/devices/%u/readings" in acl
    assert "pattern read urbanpulse/v1/devices/%u/config" in acl
    assert "user svc.ingest\ntopic read urbanpulse/v1/devices/+/readings" in acl
    assert "topic write urbanpulse/v1/devices/+/readings" not in acl
