"""Building drivers from configuration: built-in names, or ``package.module:Class`` for plug-ins
(the simulators plug in this way, so the edge never imports them)."""

from __future__ import annotations

import importlib
import shlex
from typing import Any

from edge.agent import Driver
from edge.config import ConfigError, SensorConfig
from edge.drivers.exec import ExecDriver
from edge.drivers.tipping_bucket import TippingBucket
from edge.drivers.ultrasonic import UltrasonicLevel


def build_driver(sensor: SensorConfig) -> Driver:
    options: dict[str, Any] = dict(sensor.options)
    try:
        if sensor.driver == "serial-ultrasonic":
            return UltrasonicLevel(**options)
        if sensor.driver == "tipping-bucket":
            return TippingBucket(**options)
        if sensor.driver == "exec":
            command = options.pop("command")
            return ExecDriver(shlex.split(command) if isinstance(command, str) else command, **options)
        module_name, _, class_name = sensor.driver.partition(":")
        if not class_name:
            raise ConfigError(f"unknown driver {sensor.driver!r} for sensor {sensor.name}")
        factory = getattr(importlib.import_module(module_name), class_name)
        driver: Driver = factory(**options)
        return driver
    except (TypeError, KeyError, ImportError, AttributeError) as error:
        raise ConfigError(f"sensor {sensor.name}: driver {sensor.driver!r}: {error}") from error
