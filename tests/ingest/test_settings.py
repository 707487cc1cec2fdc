from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from runtime.settings import Settings, load_settings

REPO = Path(__file__).resolve().parents[2]


def test_environment_overrides_the_config_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "urbanpulse.toml"
    config.write_text(
        'mqtt_url = "mqtt://svc.ingest:x@10.0.0.1:1883"\n[ingest]\nclient_id = "from-file"\nmax_batch_readings = 123\n'
    )
    monkeypatch.setenv("URBANPULSE_INGEST__CLIENT_ID", "from-env")
    settings = load_settings(config)
    assert settings.ingest.client_id == "from-env"
    assert settings.ingest.max_batch_readings == 123
    assert settings.mqtt().host == "10.0.0.1"


def test_the_documented_sample_config_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("URBANPULSE_CONFIG", str(REPO / "docs" / "urbanpulse.example.toml"))
    assert Settings().ingest.share_group == "ingest"


def test_bad_values_are_refused_with_the_field_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("URBANPULSE_MQTT_URL", "http://broker")
    with pytest.raises(ValidationError, match="mqtt_url"):
        Settings()


def test_a_missing_config_file_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("URBANPULSE_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(FileNotFoundError, match="nope.toml"):
        Settings()


def test_loading_a_config_file_leaves_the_environment_alone(tmp_path: Path) -> None:
    import os

    config = tmp_path / "urbanpulse.toml"
    config.write_text('[ingest]\nclient_id = "from-file"\n')
    before = dict(os.environ)
    assert load_settings(config).ingest.client_id == "from-file"
    assert dict(os.environ) == before
    assert Settings().ingest.client_id == "urbanpulse-ingest-1"  # the next load does not see the file
