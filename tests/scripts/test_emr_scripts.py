"""EMR packaging, step arguments, the template's pieces that need no AWS (cfn-lint, IAM, schedule, run date)."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from cfnlint.decode.cfn_yaml import load as load_cfn_yaml

from scripts.emr import deploy, maven, package, steps
from tests.support.cfn_lint import cfn_lint
from tests.support.iam import iam_statements
from tests.support.paths import REPO

TEMPLATE = REPO / "scripts" / "emr" / "pipeline.yaml"
DEPLOYMENT = steps.Deployment(
    code="s3://code-bucket/code/0.1.0-abc/",
    lake="s3://lake-bucket/lake",
    mart_url="jdbc:mysql://db.internal:3306/mart",
    mart_user="batch",
    mart_password_secret="arn:aws:secretsmanager:us-east-1:123456789012:secret:mart-Ab12Cd",
)


@pytest.fixture(scope="module")
def driver_jar() -> Path:
    """The MySQL JDBC driver, resolved from Maven Central into .cache/maven (once per cache)."""
    return maven.resolve(maven.mysql_driver())


@pytest.fixture(scope="module")
def template():
    return load_cfn_yaml(str(TEMPLATE))


def test_the_package_holds_the_code_entry_scripts_config_bootstrap_and_driver(tmp_path, driver_jar):
    written = {p.relative_to(tmp_path).as_posix() for p in package.build(tmp_path, [driver_jar])}
    scripts = {p.name for p in (REPO / "jobs").glob("*.py") if "__main__" in p.read_text()}  # every job, generically
    assert {"ingest.py", "similarity.py", "publish_mart.py", "pipeline.py"} <= scripts
    assert written == {
        "jobs.zip",
        "emr.toml",
        "bootstrap.sh",
        "requirements.lock",
        "jars/mysql-connector-j-9.5.0.jar",
        *scripts,
    }
    assert (tmp_path / "jars" / driver_jar.name).read_bytes()[:2] == b"PK"
    names = zipfile.ZipFile(tmp_path / "jobs.zip").namelist()
    assert "jobs/similarity.py" in names and "jobs/transform/neighbours.py" in names
    assert {"mart/schema.py", "mart/ddl/mysql.sql", "mart/ddl/sqlite.sql", "jobs/publish/mart.py"} <= set(names)
    assert "jobs/common/config.py" in names and not any("test" in n for n in names)


def test_the_version_follows_the_content_and_the_zip_is_reproducible(tmp_path, driver_jar):
    first = package.build(tmp_path / "a", [driver_jar])
    again = package.build(tmp_path / "b", [driver_jar])
    assert (tmp_path / "a" / "jobs.zip").read_bytes() == (tmp_path / "b" / "jobs.zip").read_bytes()
    label = package.version(tmp_path / "a", first)
    assert re.fullmatch(r"\d+\.\d+\.\d+-[0-9a-f]{12}", label) and label == package.version(tmp_path / "b", again)
    (tmp_path / "b" / "emr.toml").write_text((tmp_path / "b" / "emr.toml").read_text() + "# changed\n")
    assert package.version(tmp_path / "b", again) != label


def test_the_driver_comes_checked_from_the_cache_or_maven_central(tmp_path, driver_jar):
    assert driver_jar.is_relative_to(REPO / ".cache") and driver_jar.name == "mysql-connector-j-9.5.0.jar"
    assert maven.mysql_driver() in (REPO / "conf" / "local.toml").read_text(), "the same driver as local runs"
    with pytest.raises(maven.JarError, match="cannot download"):
        maven.resolve("org.example.none:no-such-artifact:0.0.1", cache=tmp_path)
    with pytest.raises(maven.JarError, match="not a Maven coordinate"):
        maven.resolve("mysql-connector-j", cache=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_the_mart_ddl_loads_from_inside_jobs_zip(tmp_path):
    """On EMR the packages are imported from the zip (--py-files): DDL files are read as resources."""
    package.build(tmp_path)
    probe = (
        "import mart.schema as s; print(s.__file__); "
        "print(len(s.create_statements('mysql', 'artists')), len(s.create_statements('sqlite', 'artists')))"
    )
    done = subprocess.run(
        [sys.executable, "-S", "-c", probe],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(tmp_path / "jobs.zip")},
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    where, counts = done.stdout.split("\n")[:2]
    assert "jobs.zip" in where and counts == "1 4"  # SQLite: the table and its three indexes (schema version 2)


def test_the_steps_run_ingest_then_similarity_with_the_driver_from_the_code_folder():
    ingest, similarity = steps.emr_steps(DEPLOYMENT, "2026-11-27", {"ingest": ["--source", "spotify", "--requests"]})
    assert [s["Name"] for s in (ingest, similarity)] == ["ingest 2026-11-27", "similarity 2026-11-27"]
    for step, job in ((ingest, "ingest"), (similarity, "similarity")):
        assert step["ActionOnFailure"] == "CANCEL_AND_WAIT" and step["HadoopJarStep"]["Jar"] == "command-runner.jar"
        args = step["HadoopJarStep"]["Args"]
        assert args[: len(steps.EMR_PREFIX)] == list(steps.EMR_PREFIX)
        assert args[args.index("--jars") + 1] == "s3://code-bucket/code/0.1.0-abc/jars/mysql-connector-j-9.5.0.jar"
        assert args[args.index("--py-files") + 1] == "s3://code-bucket/code/0.1.0-abc/jobs.zip"
        assert args[args.index("--files") + 1] == "s3://code-bucket/code/0.1.0-abc/emr.toml"
        assert args[args.index("--config") - 1] == f"s3://code-bucket/code/0.1.0-abc/{job}.py"
        assert args[args.index("--lake") + 1] == "s3://lake-bucket/lake"
        assert 'mart.password_secret="arn:aws:secretsmanager:us-east-1:123456789012:secret:mart-Ab12Cd"' in args
        assert "--packages" not in args and not any("maven" in a for a in args)
    assert ingest["HadoopJarStep"]["Args"][-5:] == ["--dt", "2026-11-27", "--source", "spotify", "--requests"]
    assert similarity["HadoopJarStep"]["Args"][-2:] == ["--dt", "2026-11-27"]
    assert 'spotify.credentials_secret=""' in ingest["HadoopJarStep"]["Args"]
    with pytest.raises(ValueError, match="not of the form"):
        steps.emr_steps(DEPLOYMENT, "27/11/2026")


def test_the_step_settings_read_back_as_the_jobs_config(tmp_path):
    """Each --set of a step, applied to the packaged emr.toml, gives the deployment's values (TOML strings)."""
    from jobs.common.config import load_config

    tricky = steps.Deployment(
        code="s3://c/code/v",
        lake="s3://l/lake",
        mart_url="jdbc:mysql://h:3306/m?a=1&b=true",
        mart_user="true",
        mart_password_secret="prod/mart",
        spotify_secret="",
    )
    args = steps.job_args(tricky, "ingest")
    overrides = [args[i + 1] for i, a in enumerate(args) if a == "--set"]
    config = load_config(REPO / "conf" / "emr.toml", overrides, env={})
    assert config["mart"]["url"] == "jdbc:mysql://h:3306/m?a=1&b=true" and config["mart"]["user"] == "true"
    assert config["mart"]["password_secret"] == "prod/mart" and config["spotify"]["credentials_secret"] == ""
    assert config["lake"]["path"] == "", "the lake comes from --lake, not from the packaged config"


def test_a_definition_that_builds_its_steps_differently_is_refused():
    definition = {
        "StartAt": "A",
        "States": {
            "A": {"Type": "Pass", "Assign": {"ingestArgs": ["spark-submit"], "ingestExtra": []}, "Next": "B"},
            "B": {
                "Type": "Task",
                "Resource": steps.ADD_STEP,
                "Arguments": {
                    "Step": {
                        "Name": "{% 'ingest ' & $dt %}",
                        "ActionOnFailure": "CANCEL_AND_WAIT",
                        "HadoopJarStep": {
                            "Jar": "command-runner.jar",
                            "Args": "{% $append($ingestArgs, $ingestExtra) %}",
                        },
                    }
                },
                "End": True,
            },
        },
    }
    with pytest.raises(steps.DefinitionError, match="state B does not add a step"):
        steps.steps_from_definition(definition, "2026-11-27")
    definition["States"]["B"]["Arguments"]["Step"]["HadoopJarStep"]["Args"] = steps.ARGS_EXPRESSION.format(job="ingest")
    with pytest.raises(steps.DefinitionError, match=r"steps are \['ingest 2026-11-27'\]"):
        steps.steps_from_definition(definition, "2026-11-27")


def test_the_bootstrap_action_pins_what_setup_py_pins_apart_from_spark():
    """EMR brings Spark and Delta; every other package the jobs import is installed at setup.py's version."""
    from importlib.metadata import distribution

    bootstrap = (REPO / "scripts" / "emr" / "bootstrap.sh").read_text(encoding="utf-8")
    pinned = dict(re.findall(r'"([A-Za-z0-9_.-]+)==([^"]+)"', bootstrap))
    required = {
        re.split(r"[=<>;\[ ]", r)[0].lower(): r
        for r in distribution("related-artists").requires or []
        if "extra ==" not in r
    }
    wanted = {name for name in required if name not in ("pyspark", "delta-spark")}
    assert set(pinned) == wanted
    for name, version in pinned.items():
        assert required[name].startswith(f"{name}=={version}"), required[name]


def test_the_bootstrap_installs_for_the_python_pyspark_runs_on_the_cluster(template):
    bootstrap = (REPO / "scripts" / "emr" / "bootstrap.sh").read_text(encoding="utf-8")
    interpreter = re.search(r"^PYTHON=(\S+)$", bootstrap, re.M).group(1)
    definition = template["Resources"]["StateMachine"]["Properties"]["DefinitionString"]["Fn::Sub"]
    assert f'"spark.pyspark.python": "{interpreter}"' in definition and interpreter.endswith("python3.11")


def test_the_template_passes_cfn_lint():
    done = cfn_lint(TEMPLATE, timeout=120)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


ACCOUNT_SECRETS = "arn:aws:secretsmanager:ap-northeast-2:123456789012:secret:"


@pytest.mark.parametrize("parameter", ["MartPasswordSecretArn", "SpotifySecretArn"])
def test_a_secret_parameter_takes_one_secret_s_full_arn_never_a_wildcard(template, parameter):
    """The ARN becomes the cluster role's GetSecretValue resource: ``secret:*`` would grant every secret of
    the account, ``prod/*`` all of a prefix, a name without its six-character suffix none at all (IAM
    matches the full ARN). CloudFormation applies the pattern to the whole value."""
    pattern = re.compile(template["Parameters"][parameter]["AllowedPattern"])
    for refused in (
        "*",
        "prod/*",
        "prod/mart-*",
        "prod/mart-Ab12C?",
        "prod/mart-Ab12Cd*",
        "prod/mart",
        'prod/mart-Ab12Cd"',
        "prod/mart-Ab12Cd\\",
        "prod/mart-Ab12Cd,arn:aws:iam::*",
    ):
        assert not pattern.fullmatch(ACCOUNT_SECRETS + refused), refused
    for accepted in ("prod/mart-Ab12Cd", "mart-Ab12Cd", "a_b+c=d.e@f-g/h-XyZ123"):
        assert pattern.fullmatch(ACCOUNT_SECRETS + accepted), accepted
    assert pattern.fullmatch("arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:mart-Ab12Cd")
    assert bool(pattern.fullmatch("")) == (parameter == "SpotifySecretArn")  # optional: ingest without Spotify
    # deploy.py checks the same pattern before anything is uploaded.
    assert deploy.SECRET_ARN.pattern == template["Parameters"]["MartPasswordSecretArn"]["AllowedPattern"]


def test_the_schedule_starts_the_state_machine_with_its_own_run_time(template):
    parameters, schedule = template["Parameters"], template["Resources"]["Schedule"]["Properties"]
    assert parameters["ScheduleTimeZone"]["Default"] == "Asia/Seoul"
    assert schedule["ScheduleExpression"] == {"Ref": "ScheduleExpression"}
    assert schedule["ScheduleExpressionTimezone"] == {"Ref": "ScheduleTimeZone"}
    assert schedule["Target"]["Arn"] == {"Ref": "StateMachine"}
    assert schedule["Target"]["Input"] == '{"scheduled_time": "<aws.scheduler.scheduled-time>"}'
    assert schedule["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert set(parameters["ReleaseLabel"]["AllowedValues"]) == set(steps.RELEASES)
    assert parameters["ReleaseLabel"]["Default"] in steps.RELEASES


def run_date(template):
    """The template's run-date Lambda handler, loaded from its inline code."""
    namespace: dict = {}
    exec(template["Resources"]["RunDateFunction"]["Properties"]["Code"]["ZipFile"], namespace)
    return namespace["handler"]


@pytest.mark.parametrize(
    "scheduled, zone, dt",
    [
        ("2026-11-26T19:00:00Z", "Asia/Seoul", "2026-11-27"),  # 04:00 in Seoul is 19:00 UTC the day before
        ("2026-11-26T14:59:59Z", "Asia/Seoul", "2026-11-26"),
        ("2026-07-01T03:30:00Z", "America/New_York", "2026-06-30"),  # 23:30 EDT (UTC-4)
        ("2026-01-15T04:30:00Z", "America/New_York", "2026-01-14"),  # 23:30 EST (UTC-5)
        ("2026-01-15T05:30:00Z", "America/New_York", "2026-01-15"),
        ("2026-11-27T00:00:00Z", "UTC", "2026-11-27"),
    ],
)
def test_a_scheduled_run_s_dt_is_its_date_in_the_schedule_s_zone(template, scheduled, zone, dt):
    assert run_date(template)({"input": {"scheduled_time": scheduled}, "time_zone": zone}, None) == {"dt": dt}


def test_a_manual_run_s_dt_is_checked(template):
    handler = run_date(template)
    assert handler({"input": {"dt": "2026-11-27"}, "time_zone": "Asia/Seoul"}, None) == {"dt": "2026-11-27"}
    for bad in ("2026-02-30", "20261127", "2026-11-27T00:00", "yesterday"):
        with pytest.raises(ValueError, match="YYYY-MM-DD"):
            handler({"input": {"dt": bad}, "time_zone": "Asia/Seoul"}, None)
    with pytest.raises(ValueError, match="needs dt"):
        handler({"input": {}, "time_zone": "Asia/Seoul"}, None)


def test_the_roles_grant_no_wildcard_beyond_what_is_conditioned(template):
    roles = {name: r for name, r in template["Resources"].items() if r["Type"] == "AWS::IAM::Role"}
    assert set(roles) == {"RunDateRole", "EmrServiceRole", "EmrInstanceRole", "StateMachineRole", "SchedulerRole"}
    for name, role in roles.items():
        for statement in iam_statements(role["Properties"].get("Policies", [])):
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert not any(a == "*" or a.endswith(":*") for a in actions), (name, statement)
            if statement["Resource"] == "*" or str(statement["Resource"]).endswith("cluster/*'}"):
                assert "Condition" in statement, (name, statement)
    secrets = [
        s
        for s in iam_statements(roles["EmrInstanceRole"]["Properties"]["Policies"])
        if "secretsmanager" in str(s["Action"])
    ]
    assert len(secrets) == 1 and secrets[0]["Action"] == "secretsmanager:GetSecretValue"
    assert "MartPasswordSecretArn" in str(secrets[0]["Resource"]) and "*" not in str(secrets[0]["Resource"])
    lake = [
        s
        for s in iam_statements(roles["EmrInstanceRole"]["Properties"]["Policies"])
        if s.get("Sid") == "ReadAndWriteTheLake"
    ]
    assert lake[0]["Resource"] == {"Fn::Sub": "arn:${AWS::Partition}:s3:::${LakeBucket}/${LakePrefix}/*"}
    profile = template["Resources"]["EmrInstanceProfile"]["Properties"]  # EMR wants the role's own name
    assert profile["InstanceProfileName"] == {"Ref": "EmrInstanceRole"} and profile["Roles"] == [
        {"Ref": "EmrInstanceRole"}
    ]
    scheduler = list(iam_statements(roles["SchedulerRole"]["Properties"]["Policies"]))
    assert scheduler == [{"Effect": "Allow", "Action": "states:StartExecution", "Resource": {"Ref": "StateMachine"}}]
