"""jobs/evaluate.py's settings (``EvaluateSettings``): built and checked before Spark starts, so a bad value is
one log line and exit status 2, never a traceback after minutes of Spark work. No JVM here."""

from __future__ import annotations

import pytest

from jobs import evaluate
from jobs.common.config import load_config, set_path
from jobs.common.errors import ConfigError
from jobs.settings import DEFAULT_K, EvaluateSettings, apply_signal_settings
from jobs.transform.signals import PRESETS


def config(**evaluate_options) -> dict:
    made = load_config()
    for key, value in evaluate_options.items():
        set_path(made, f"evaluate.{key}", value)
    apply_signal_settings(made)
    return made


@pytest.mark.parametrize(
    "k, message",
    [
        (0, "evaluate.k must be at least 1, got 0"),
        (-2, "evaluate.k must be at least 1, got -2"),
        ("three", "evaluate.k must be a whole number, got 'three'"),
        (2.5, "evaluate.k must be a whole number, got 2.5"),
        (True, "evaluate.k must be a whole number, got True"),
    ],
)
def test_a_bad_k_is_a_config_error_naming_the_setting(k, message):
    with pytest.raises(ConfigError, match=message):
        EvaluateSettings.from_config(config(k=k))


@pytest.mark.parametrize("name, value", [("draws", 0), ("genres", "many"), ("fit_passes", 0), ("fit_seed", -1)])
def test_the_other_evaluate_settings_are_whole_numbers_too(name, value):
    with pytest.raises(ConfigError, match=f"evaluate.{name} must be a whole number"):
        EvaluateSettings.from_config(config(**{name: value}))


def test_the_default_k_is_the_one_constant_and_compared_settings_compute_at_least_k():
    settings = EvaluateSettings.from_config(config(), ["published", "seed", "features=energy,tempo;weights.energy=2"])
    assert settings.k == DEFAULT_K
    assert [label for label, _ in settings.compared] == ["published", "seed", "features=energy,tempo;weights.energy=2"]
    published, seed, changed = (setting for _, setting in settings.compared)
    assert published is None and seed.features == tuple(PRESETS["seed"]["features"])
    assert changed.features == ("energy", "tempo") and dict(changed.weights) == {"energy": 2.0}
    assert settings.fit_setting is seed
    big = EvaluateSettings.from_config(config(k=7), ["config"])
    assert big.compared[0][1].k == 7 and big.fit_setting.k == 7
    assert EvaluateSettings.from_config(config(), ["published"]).fit_setting == settings.base


@pytest.mark.parametrize(
    "spec, message",
    [
        ("nonsense", "not a preset"),
        ("colour=red", "unknown key 'colour'"),
        ("weights.energy=lots", "weights.energy needs a number"),
    ],
)
def test_a_bad_compare_value_is_refused_with_the_settings(spec, message):
    with pytest.raises(ConfigError, match=message):
        EvaluateSettings.from_config(config(), ["seed", spec])


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--set", "evaluate.k=0"], "evaluate.k must be at least 1, got 0"),
        (["--set", "evaluate.k=2.5"], "evaluate.k must be a whole number"),
        (["--k", "0"], "evaluate.k must be at least 1, got 0"),
        (["--compare", "seed", "--compare", "colour=red"], "unknown key"),
    ],
)
def test_bad_settings_exit_2_with_one_log_line_before_spark_starts(monkeypatch, capsys, tmp_path, flags, message):
    def no_spark(*_args, **_kwargs):
        raise AssertionError("Spark started")

    monkeypatch.setattr(evaluate, "start_spark", no_spark)
    assert evaluate.main(["--lake", str(tmp_path / "lake"), *flags]) == 2
    logged = capsys.readouterr().err.strip().splitlines()  # setup_logging writes to stderr
    assert len(logged) == 1 and "ERROR jobs.evaluate: " in logged[0] and message in logged[0]
