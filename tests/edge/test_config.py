from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from edge.config import ConfigError, load_config, parse_config

REPO = Path(__file__).resolve().parents[2]


def test_the_documented_example_is_valid() -> None:
    config = load_config(REPO / "docs" / "edge.example.toml")
    assert [s.driver for s in config.sensors] == ["serial-ultrasonic", "tipping-bucket", "exec"]
    assert config.endpoint.tls and config.drain_max_readings_per_s == 1000


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('mqtt_url = "mqtt://h"', "missing device_id"),
        ('device_id = "Bad Id"\nmqtt_url = "mqtt://h"', "not a valid device id"),
        ('device_id = "dev-01"\nmqtt_url = "http://h"', "mqtt_url"),
        ('device_id = "dev-01"\nmqtt_url = "mqtt://h"\n[[sensors]]\nname = "humidity"\ndriver = "x"\ninterval_s = 1',
         "sensors[0].name 'humidity'"),
        ('device_id = "dev-01"\nmqtt_url = "mqtt://h"\n[[sensors]]\nname = "rainfall"\ndriver = "x"\ninterval_s = 0',
         "interval_s must be positive"),
        ('device_id = "dev-01"\nmqtt_url = "mqtt://h"\n[[sensors]]\nname = "rainfall"\ninterval_s = 5',
         "missing sensors[0].driver"),
    ],
)  # fmt: skip
def test_config_errors_name_the_key(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_config(tomllib.loads(text))


def test_tls_ca_file_reaches_the_endpoint() -> None:
    config = parse_config({"device_id": "dev-01", "mqtt_url": "mqtts://dev-01:p@h", "tls_ca_file": "/etc/ca.pem"})
    assert config.endpoint.tls and config.endpoint.ca_file == "/etc/ca.pem" and config.endpoint.port == 8883


def test_unreadable_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="edge.toml"):
        load_config(tmp_path / "edge.toml")


def test_agent_refuses_a_bad_config_with_one_clear_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    config = tmp_path / "edge.toml"
    config.write_text('device_id = "dev-01"\nmqtt_url = "mqtt://h"\n'
                      '[[sensors]]\nname = "rainfall"\ndriver = "no-such-driver"\ninterval_s = 5\n')  # fmt: skip
    result = subprocess.run([sys.executable, "-m", "edge", "--config", str(config)], cwd=REPO, capture_output=True,
                            text=True, timeout=60)  # fmt: skip
    assert result.returncode == 2
    assert "unknown driver 'no-such-driver' for sensor rainfall" in result.stderr
