"""Building drivers from configuration: built-in names, or ``package.module:Class`` for plug-ins.

``simulated`` is the simulators' driver, found by name at run time (``simulators.drivers:Simulated``)
so the edge package never imports server-side code and a Pi does not need NumPy.
"""

from __future__ import annotations

import importlib
import shlex
from typing import Any

from edge.agent import Driver
from edge.config import ConfigError, SensorConfig
from edge.drivers.exec import ExecDriver
from edge.drivers.tipping_bucket import TippingBucket
from edge.drivers.ultrasonic import UltrasonicLevel

PLUGIN_ALIASES = {"simulated": "simulators.drivers:Simulated"}


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
        target = PLUGIN_ALIASES.get(sensor.driver, sensor.driver)
        module_name, _, class_name = target.partition(":")
        if not class_name:
            raise ConfigError(f"unknown driver {sensor.driver!r} for sensor {sensor.name}")
        factory = getattr(importlib.import_module(module_name), class_name)
        driver: Driver = factory(**options)
        return driver
    except (TypeError, KeyError, ValueError, ImportError, AttributeError) as error:
        raise ConfigError(f"sensor {sensor.name}: driver {sensor.driver!r}: {error}") from error
