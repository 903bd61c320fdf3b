"""Config files, environment references and command-line overrides."""

from __future__ import annotations

import pytest

from jobs.common.config import DEFAULT_CONFIG, load_config, parse_override, split_key
from jobs.common.errors import ConfigError
from tests.support.paths import REPO

CONF = REPO / "conf"


def test_shipped_profiles_load():
    local = load_config(CONF / "local.toml")
    assert local["lake"]["path"] == "data/lake"
    # k is left to its one default (jobs/settings.py DEFAULT_K), in both profiles.
    assert "k" not in local["similarity"] and "k" not in local["evaluate"]
    # On EMR the step's command line gives the deployment's values (scripts/emr/steps.py).
    emr = load_config(
        CONF / "emr.toml",
        ['lake.path="s3://my-bucket/lake"', 'mart.url="jdbc:mysql://db:3306/mart"', 'mart.password_secret="prod/mart"'],
        env={},
    )
    assert emr["lake"]["path"] == "s3://my-bucket/lake"
    assert emr["mart"]["url"] == "jdbc:mysql://db:3306/mart" and emr["mart"]["password_secret"] == "prod/mart"
    assert "password" not in emr["mart"] and "password" not in local["mart"]
    assert emr["spark"]["packages"] == []
    assert "k" not in emr["similarity"] and "k" not in emr["evaluate"]
    assert DEFAULT_CONFIG == CONF / "local.toml"


def test_missing_environment_variable_is_named(tmp_path):
    (tmp_path / "c.toml").write_text('[lake]\npath = "s3://${LAKE_BUCKET}/lake"\n')
    with pytest.raises(ConfigError, match="LAKE_BUCKET"):
        load_config(tmp_path / "c.toml", env={})


def test_overrides_are_typed_and_nested(tmp_path):
    config = load_config(
        CONF / "local.toml",
        [
            "similarity.k=5",
            "similarity.metric=cosine",
            'similarity.features=["energy", "tempo"]',
            'spark.conf."spark.driver.memory"=8g',
            "new.section.flag=true",
        ],
    )
    assert config["similarity"]["k"] == 5
    assert config["similarity"]["metric"] == "cosine"
    assert config["similarity"]["features"] == ["energy", "tempo"]
    assert config["spark"]["conf"]["spark.driver.memory"] == "8g"
    assert config["new"]["section"]["flag"] is True


@pytest.mark.parametrize("bad", ["k=", "=5", "similarity.k", "a..b=1", "lake.path.x=1"])
def test_malformed_overrides_are_refused(bad):
    with pytest.raises(ConfigError):
        load_config(CONF / "local.toml", [bad])


def test_split_key_handles_quoted_parts():
    assert split_key('spark.conf."spark.sql.shuffle.partitions"') == ["spark", "conf", "spark.sql.shuffle.partitions"]
    assert split_key("a.b") == ["a", "b"] and split_key("a.") is None
    assert parse_override("x.y=hello world") == ("x.y", "hello world")


def test_missing_or_broken_file_is_reported(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[similarity\nk = 3\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(broken)
