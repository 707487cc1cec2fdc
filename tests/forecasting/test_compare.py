"""Other libraries' models behind the engine's interface: missing libraries and failures are explained."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable

import numpy as np
import pytest

from forecasting.compare import INSTALL_HINT, MissingLibrary, ProphetModel, StatsForecastModel, StatsmodelsETS
from forecasting.model import Model
from forecasting.series import Series

HOUR = 3600.0
START = 1_788_000_000.0 - 1_788_000_000.0 % 86_400


def _hourly(n_series: int = 3, days: int = 10) -> Series:
    t = np.arange(24 * days)
    rng = np.random.default_rng(0)
    return Series(START, HOUR, 10 + 3 * np.sin(2 * np.pi * t / 24) + rng.normal(0, 0.3, (n_series, len(t))))


@pytest.mark.parametrize(
    ("make", "module"),
    [
        (lambda: StatsForecastModel("AutoETS", 24), "statsforecast.models"),
        (lambda: StatsmodelsETS(24), "statsmodels.tsa.exponential_smoothing.ets"),
        (lambda: ProphetModel(), "prophet"),
    ],
)
def test_a_missing_library_is_named_with_the_command_that_installs_it(
    make: Callable[[], Model], module: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # what an environment without the package looks like to import
    with pytest.raises(MissingLibrary, match=re.escape(f"'{module}' package: {INSTALL_HINT}")):
        make().fit(_hourly())  # the library is first needed to fit


def test_a_series_the_library_fails_on_gets_the_last_value_and_is_flagged(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    history = _hourly()
    model = StatsmodelsETS(24)
    original = model._forecast_one
    calls = iter(range(3))

    def flaky(*args: object, **kwargs: object) -> object:
        if next(calls) == 1:
            raise np.linalg.LinAlgError("singular matrix")  # what a library raises on a pathological series
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(model, "_forecast_one", flaky)
    forecast = model.fit(history).predict(12)
    assert forecast.fallback is not None and forecast.fallback.tolist() == [False, True, False]
    assert np.allclose(forecast.mean[1], history.values[1, -1]) and np.isfinite(forecast.mean).all()
    assert "statsmodels_ets failed to forecast a series of 240 points (singular matrix)" in caplog.text


def test_an_unknown_statsforecast_model_is_refused() -> None:
    with pytest.raises(ValueError, match="choose AutoETS or MSTL"):
        StatsForecastModel("ARIMA")
