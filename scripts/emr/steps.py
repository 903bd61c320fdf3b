"""The spark-submit arguments of one batch's EMR steps: ingest, then similarity.

Each step's command line is an environment prefix followed by the job's arguments. The prefix says
where the job runs: on EMR ``spark-submit --master yarn --deploy-mode cluster`` (and one application
attempt, so a failed ingest is not run twice); on a Spark standalone cluster in the tests, that
master in client mode (standalone runs no Python application in cluster mode), plus what EMR's
``delta-defaults`` provides there: Delta on the classpath. Everything after the prefix is the same
wherever the job runs, with only the code folder differing (``s3://bucket/code/<version>`` on EMR, a
local folder in the tests): the driver memory, ``--jars`` (the MySQL JDBC driver, from the code folder;
no Maven at run time), ``--py-files`` (``jobs.zip``), ``--files`` (``emr.toml``), the entry script,
``--config emr.toml``, the lake, the mart and the secrets' ids, ``--dt``, then the deployment's extra
arguments for that job.

``scripts/emr/pipeline.yaml`` holds the same lists in its state machine (its test reads them back from
a deployed stack and compares them with these); ``run.py`` reads them from the deployed state machine.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from jobs.common.lake import parse_dt
from scripts.emr import maven

# EMR releases the jobs run on (Spark 4.0 / Delta 4.0 / Python 3.11, as the pins in setup.py).
RELEASES = {"emr-spark-8.0.0": "Spark 4.0.2, Delta 4.0.0, Python 3.11, Java 17"}
JOBS = ("ingest", "similarity")
EMR_PREFIX = ("spark-submit", "--master", "yarn", "--deploy-mode", "cluster", "--conf", "spark.yarn.maxAppAttempts=1")
CONFIG_FILE = "emr.toml"
DRIVER_MEMORY = "4g"  # the similarity job builds its neighbour index on the driver
ACTION_ON_FAILURE = "CANCEL_AND_WAIT"
STEP_JAR = "command-runner.jar"
# How the state machine builds a step's Args from its variables: <job>Args, then --dt, then <job>Extra.
ARGS_EXPRESSION = "{{% $append($append(${job}Args, ['--dt', $dt]), ${job}Extra) %}}"
NAME_EXPRESSION = "{{% '{job} ' & $dt %}}"
ADD_STEP = "arn:aws:states:::elasticmapreduce:addStep.sync"


class DefinitionError(ValueError):
    """A state machine definition whose steps this module cannot read."""


@dataclass(frozen=True)
class Deployment:
    """Where a deployment's jobs find their code, lake, mart and secrets (ids only, never values)."""

    code: str  # folder of the package: s3://bucket/code/<version>, or a local folder
    lake: str  # s3://bucket/prefix on EMR
    mart_url: str  # jdbc:mysql://host:3306/mart
    mart_user: str
    mart_password_secret: str  # AWS Secrets Manager id or ARN of the mart user's password
    spotify_secret: str = ""  # AWS Secrets Manager id or ARN with client_id, client_secret ("" = none)


def toml_string(value: str) -> str:
    """``value`` as a TOML basic string, so ``--set key=<it>`` reads it as text whatever it looks like."""
    return json.dumps(value)


def job_args(deployment: Deployment, job: str) -> list[str]:
    """A job's arguments after the environment prefix, without the dt and the extra arguments."""
    if job not in JOBS:
        raise ValueError(f"unknown job {job!r}: the steps are {', '.join(JOBS)}")
    code = deployment.code.rstrip("/")
    args = [
        "--driver-memory",
        DRIVER_MEMORY,
        "--jars",
        f"{code}/jars/{maven.jar_name(maven.mysql_driver())}",
        "--py-files",
        f"{code}/jobs.zip",
        "--files",
        f"{code}/{CONFIG_FILE}",
        f"{code}/{job}.py",
        "--config",
        CONFIG_FILE,
        "--lake",
        deployment.lake,
        "--set",
        f"mart.url={toml_string(deployment.mart_url)}",
        "--set",
        f"mart.user={toml_string(deployment.mart_user)}",
        "--set",
        f"mart.password_secret={toml_string(deployment.mart_password_secret)}",
    ]
    if job == "ingest":
        args += ["--set", f"spotify.credentials_secret={toml_string(deployment.spotify_secret)}"]
    return args


def step_args(prefix: Sequence[str], deployment: Deployment, job: str, dt: str, extra: Sequence[str] = ()) -> list[str]:
    """The whole command line of one job's step for ``dt``."""
    return [*prefix, *job_args(deployment, job), "--dt", parse_dt(dt), *extra]


def step_config(job: str, dt: str, args: Sequence[str]) -> dict:
    """One step in the EMR API's shape (AddJobFlowSteps ``Steps`` item, Step Functions' ``Step``)."""
    return {
        "Name": f"{job} {dt}",
        "ActionOnFailure": ACTION_ON_FAILURE,
        "HadoopJarStep": {"Jar": STEP_JAR, "Args": list(args)},
    }


def emr_steps(deployment: Deployment, dt: str, extra: Mapping[str, Sequence[str]] | None = None) -> list[dict]:
    """The batch's steps on EMR for ``dt``, in order."""
    return [
        step_config(job, dt, step_args(EMR_PREFIX, deployment, job, dt, (extra or {}).get(job, ()))) for job in JOBS
    ]


def steps_from_definition(definition: str | Mapping, dt: str) -> list[dict]:
    """The steps a deployed state machine adds for ``dt``, in order, in the EMR API's shape.

    Reads the variables the state machine assigns (``<job>Args``, ``<job>Extra``) and follows its
    states from ``StartAt`` (``Next``, or a Choice's first choice: the way a run goes on); refuses a
    definition whose steps are built differently.
    """
    dt = parse_dt(dt)
    machine = json.loads(definition) if isinstance(definition, str) else definition
    states = machine.get("States", {})
    assigned: dict = {}
    steps, name, seen = [], machine.get("StartAt"), set()
    while name and name not in seen:
        seen.add(name)
        state = states.get(name) or {}
        assigned.update(state.get("Assign") or {})
        if state.get("Resource") == ADD_STEP:
            steps.append(_step_of(name, state, assigned, dt))
        name = state.get("Next") or next((c.get("Next") for c in state.get("Choices") or []), None)
    if [s["Name"].split(" ")[0] for s in steps] != list(JOBS):
        raise DefinitionError(f"the state machine's steps are {[s['Name'] for s in steps]}, not {list(JOBS)} in order")
    return steps


def _step_of(name: str, state: Mapping, assigned: Mapping, dt: str) -> dict:
    step = (state.get("Arguments") or {}).get("Step") or {}
    job = next((job for job in JOBS if step.get("Name") == NAME_EXPRESSION.format(job=job)), "")
    hadoop = step.get("HadoopJarStep") or {}
    if (
        job not in JOBS
        or hadoop.get("Args") != ARGS_EXPRESSION.format(job=job)
        or hadoop.get("Jar") != STEP_JAR
        or step.get("ActionOnFailure") != ACTION_ON_FAILURE
    ):
        raise DefinitionError(f"state {name} does not add a step the way scripts/emr/steps.py expects: {step}")
    args, extra = assigned.get(f"{job}Args"), assigned.get(f"{job}Extra")
    if not (_strings(args) and args) or not _strings(extra):
        raise DefinitionError(f"state {name}: the variables {job}Args and {job}Extra are not lists of strings")
    return step_config(job, dt, [*args, "--dt", dt, *extra])


def _strings(value) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)
