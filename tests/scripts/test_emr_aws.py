"""deploy.py and run.py against moto's server (S3, CloudFormation, IAM, Lambda, Step Functions, EMR on 127.0.0.1).

moto's CloudFormation builds every resource of the template but the EventBridge Scheduler schedule (that
one is checked from the template in test_emr_scripts.py).
"""

from __future__ import annotations

import json

import boto3
import jsonata
import pytest

from scripts.emr import deploy, maven, run, steps

STACK = "ra-test"
MART_SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/mart-AbCdEf"
SPOTIFY_SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/spotify-XyZ123"
OPTIONS = [
    "--stack",
    STACK,
    "--bucket",
    "artifacts",
    "--lake",
    "s3://lake-bucket/lake",
    "--subnet",
    "subnet-0123abcd",
    "--mart-url",
    "jdbc:mysql://db.internal:3306/mart",
    "--mart-user",
    "batch",
    "--mart-secret",
    MART_SECRET,
]
EXTRA = [
    "--spotify-secret",
    SPOTIFY_SECRET,
    "--ingest-args",
    "--source spotify --refresh --requests",
    "--similarity-args",
    "--k 5",
]
DT = "2026-11-27"


@pytest.fixture
def deployed(buckets, capsys):
    """The stack deployed by deploy.py; yields (definition dict, the package's S3 keys, the code URI)."""
    assert deploy.main([*OPTIONS, *EXTRA]) == 0, capsys.readouterr().err
    outputs = dict(
        line.split(": ", 1)
        for line in capsys.readouterr().out.splitlines()
        if line.count(": ") == 1 and line.split(":")[0] in ("CodeUri", "LogUri", "StateMachineArn")
    )
    described = boto3.client("stepfunctions").describe_state_machine(stateMachineArn=outputs["StateMachineArn"])
    keys = {o["Key"] for o in buckets.list_objects_v2(Bucket="artifacts")["Contents"]}
    return json.loads(described["definition"]), keys, outputs


def test_deploy_uploads_the_package_under_a_versioned_prefix(deployed):
    _, keys, outputs = deployed
    code = outputs["CodeUri"]
    assert code.startswith("s3://artifacts/code/0.1.0-") and outputs["LogUri"] == f"s3://artifacts/logs/{STACK}/"
    prefix = code.removeprefix("s3://artifacts/") + "/"
    assert {k.removeprefix(prefix) for k in keys} >= {
        "jobs.zip",
        "emr.toml",
        "bootstrap.sh",
        "ingest.py",
        "similarity.py",
        "jars/mysql-connector-j-9.5.0.jar",
    }
    assert all(k.startswith(prefix) for k in keys)
    jar = boto3.client("s3").get_object(Bucket="artifacts", Key=prefix + "jars/mysql-connector-j-9.5.0.jar")
    assert jar["Body"].read() == maven.resolve(maven.mysql_driver()).read_bytes()


def test_the_state_machine_creates_the_cluster_then_runs_ingest_then_similarity(deployed):
    definition, keys, outputs = deployed
    code = outputs["CodeUri"]
    cluster = definition["States"]["CreateCluster"]
    assert cluster["Resource"].endswith(":states:::elasticmapreduce:createCluster")
    arguments = cluster["Arguments"]
    assert arguments["ReleaseLabel"] == "emr-spark-8.0.0" and arguments["Applications"] == [{"Name": "Spark"}]
    assert {"Classification": "delta-defaults", "Properties": {"delta.enabled": "true"}} in arguments["Configurations"]
    assert arguments["BootstrapActions"][0]["ScriptBootstrapAction"]["Path"] == f"{code}/bootstrap.sh"
    assert arguments["LogUri"] == outputs["LogUri"]
    assert arguments["Instances"]["KeepJobFlowAliveWhenNoSteps"] is True
    assert [
        (g["InstanceRole"], g["InstanceType"], g["InstanceCount"]) for g in arguments["Instances"]["InstanceGroups"]
    ] == [("MASTER", "m5.xlarge", 1), ("CORE", "m5.xlarge", 2)]
    assert {"Key": "for-use-with-amazon-emr-managed-policies", "Value": "true"} in arguments["Tags"]
    iam = boto3.client("iam")  # the roles exist; the instance profile carries its role's name, as EMR requires
    profile = iam.get_instance_profile(InstanceProfileName=arguments["JobFlowRole"])["InstanceProfile"]
    assert [r["RoleName"] for r in profile["Roles"]] == [arguments["JobFlowRole"]]
    assert iam.get_role(RoleName=arguments["ServiceRole"])["Role"]["AssumeRolePolicyDocument"]["Statement"][0][
        "Principal"
    ] == {"Service": "elasticmapreduce.amazonaws.com"}
    # The steps, in order, are exactly what scripts/emr/steps.py builds for this deployment.
    deployment = steps.Deployment(
        code=code,
        lake="s3://lake-bucket/lake",
        mart_url="jdbc:mysql://db.internal:3306/mart",
        mart_user="batch",
        mart_password_secret=MART_SECRET,
        spotify_secret=SPOTIFY_SECRET,
    )
    expected = steps.emr_steps(
        deployment, DT, {"ingest": ["--source", "spotify", "--refresh", "--requests"], "similarity": ["--k", "5"]}
    )
    assert steps.steps_from_definition(definition, DT) == expected
    for step in expected:  # every s3:// file a step names was uploaded, the driver jar included
        args = step["HadoopJarStep"]["Args"]
        assert args[args.index("--jars") + 1] == f"{code}/jars/mysql-connector-j-9.5.0.jar"
        named = {a.removeprefix("s3://artifacts/") for a in args if a.startswith("s3://artifacts/")}
        assert named and named <= keys


def test_the_state_machine_is_valid_and_terminates_the_cluster_on_every_path(deployed):
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    definition, _, _ = deployed
    StepFunctionsParserBackend._validate_definition(definition=json.dumps(definition))  # the ASL grammar
    states = definition["States"]

    def targets(state):
        found = [
            state.get("Next"),
            state.get("Default"),
            *(c["Next"] for c in state.get("Choices", [])),
            *(c["Next"] for c in state.get("Catch", [])),
        ]
        return {t for t in found if t}

    reachable, todo = set(), [definition["StartAt"]]
    while todo:
        name = todo.pop()
        if name not in reachable:
            reachable.add(name)
            todo.extend(targets(states[name]))
    assert reachable == set(states), "every state is reachable and every target exists"
    order = []
    name = definition["StartAt"]
    while name:
        order.append(name)
        name = states[name].get("Next") or (states[name].get("Choices") or [{}])[0].get("Next")
    assert order == [
        "Settings",
        "OneRunAtATime",
        "IsTheOldestRun",
        "RunDate",
        "CreateCluster",
        "Ingest",
        "Similarity",
        "TerminateCluster",
        "Done",
    ]
    for name in ("Ingest", "Similarity"):  # a failed or timed-out step terminates the cluster, then fails the run
        assert [c["Next"] for c in states[name]["Catch"]] == ["TerminateAfterFailure"]
        assert states[name]["Catch"][0]["ErrorEquals"] == ["States.ALL"] and states[name]["TimeoutSeconds"] == 10800
    assert states["TerminateAfterFailure"]["Resource"].endswith("terminateCluster.sync")
    assert states["TerminateAfterFailure"]["Next"] == "Failed" and states["Failed"]["Type"] == "Fail"
    assert definition["States"]["CreateCluster"]["Arguments"]["AutoTerminationPolicy"] == {"IdleTimeout": 3600}
    # A run is not started twice: only the oldest running execution of this state machine goes on.
    guard = states["OneRunAtATime"]
    assert guard["Resource"].endswith(":states:::aws-sdk:sfn:listExecutions")
    assert guard["Arguments"]["StatusFilter"] == "RUNNING"
    assert states["IsTheOldestRun"]["Choices"][0]["Condition"] == "{% $oldestRun = $states.context.Execution.Id %}"
    assert states["IsTheOldestRun"]["Default"] == "AnotherRunIsGoing"


def evaluate(expression: str, **variables):
    """A JSONata expression of the definition (``{% ... %}``), evaluated with ``variables`` bound."""
    assert expression.startswith("{%") and expression.endswith("%}"), expression
    compiled = jsonata.Jsonata(expression[2:-2])
    frame = compiled.create_frame()
    for name, value in variables.items():
        frame.bind(name, value)
    return compiled.evaluate(None, frame)


def test_the_state_machine_s_expressions_build_the_steps_and_keep_one_run(deployed):
    """Its JSONata, evaluated: the steps' names and arguments, the dt from the run-date function, the guard."""
    definition, _, outputs = deployed
    states = definition["States"]
    assigned = dict(states["Settings"]["Assign"])
    request = {"dt": DT}
    assert evaluate(assigned.pop("request"), states={"input": request}) == request
    payload = {"Payload": {"dt": DT}}
    assert evaluate(states["RunDate"]["Assign"]["dt"], states={"result": payload}) == DT
    assert evaluate(states["RunDate"]["Arguments"]["Payload"]["input"], request=request) == request
    assert states["RunDate"]["Arguments"]["Payload"]["time_zone"] == "Asia/Seoul"
    expected = steps.steps_from_definition(definition, DT)
    for state, step in zip(("Ingest", "Similarity"), expected):
        built = states[state]["Arguments"]["Step"]
        assert evaluate(built["Name"], dt=DT) == step["Name"]
        assert evaluate(built["HadoopJarStep"]["Args"], dt=DT, **assigned) == step["HadoopJarStep"]["Args"]
    assert expected[0]["HadoopJarStep"]["Args"][-6:] == ["--dt", DT, "--source", "spotify", "--refresh", "--requests"]
    no_extra = evaluate(
        states["Similarity"]["Arguments"]["Step"]["HadoopJarStep"]["Args"], dt=DT, **{**assigned, "similarityExtra": []}
    )
    assert no_extra == [*assigned["similarityArgs"], "--dt", DT]
    cluster = states["CreateCluster"]["Arguments"]
    assert evaluate(cluster["Name"], dt=DT) == f"related-artists {DT}"
    assert evaluate(states["CreateCluster"]["Assign"]["clusterId"], states={"result": {"ClusterId": "j-1"}}) == "j-1"
    # ListExecutions lists the newest first: only the oldest running execution goes on.
    listing = {"Executions": [{"ExecutionArn": "arn:new"}, {"ExecutionArn": "arn:old"}]}
    oldest = evaluate(states["OneRunAtATime"]["Assign"]["oldestRun"], states={"result": listing})
    condition = states["IsTheOldestRun"]["Choices"][0]["Condition"]
    assert evaluate(condition, oldestRun=oldest, states={"context": {"Execution": {"Id": "arn:old"}}}) is True
    assert evaluate(condition, oldestRun=oldest, states={"context": {"Execution": {"Id": "arn:new"}}}) is False
    alone = evaluate(
        states["OneRunAtATime"]["Assign"]["oldestRun"], states={"result": {"Executions": [listing["Executions"][0]]}}
    )
    assert evaluate(condition, oldestRun=alone, states={"context": {"Execution": {"Id": "arn:new"}}}) is True
    assert evaluate(states["AnotherRunIsGoing"]["Cause"], oldestRun=oldest).endswith("is going: arn:old")
    failure = {"Error": "States.TaskFailed", "Cause": "step failed"}
    assert evaluate(states["Failed"]["Error"], failure=failure) == "States.TaskFailed"
    assert evaluate(states["Failed"]["Cause"], failure=failure) == "step failed"


@pytest.mark.parametrize(
    "change, message",
    [
        ({"--bucket": "missing-bucket"}, "bucket missing-bucket does not exist"),
        ({"--release": "emr-7.9.0"}, "unknown EMR release 'emr-7.9.0'"),
        ({"--time-zone": "Asia/Busan"}, "unknown time zone 'Asia/Busan'"),
        ({"--lake": "s3://lake-bucket"}, "must be s3://bucket/prefix"),
        ({"--mart-secret": "prod/mart"}, "--mart-secret must be a Secrets Manager secret ARN"),
        (
            {"--mart-url": "jdbc:mysql://batch:hunter2@db:3306/mart"},
            "--mart-url 'jdbc:mysql://batch:***@db:3306/mart' carries a user or password",
        ),
        ({"--ingest-args": "--source nowhere"}, "are not arguments of jobs/ingest.py"),
    ],
)
def test_bad_configuration_fails_clearly_before_anything_is_created(buckets, capsys, change, message):
    options = list(OPTIONS)
    for key, value in change.items():
        if key in options:
            options[options.index(key) + 1] = value
        else:
            options += [key, value]
    assert deploy.main(options) == 2
    err = capsys.readouterr().err
    assert message in err and "nothing was created" in err
    assert_nothing_created(buckets)


def test_no_credentials_fail_clearly_before_anything_is_created(buckets, capsys, monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    assert deploy.main(OPTIONS) == 2
    assert "no AWS credentials: set AWS_PROFILE" in capsys.readouterr().err
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    assert_nothing_created(buckets)


def assert_nothing_created(s3):
    assert [b for b in ("artifacts", "lake-bucket") if s3.list_objects_v2(Bucket=b).get("KeyCount")] == []
    assert boto3.client("cloudformation").list_stacks()["StackSummaries"] == []
    assert boto3.client("stepfunctions").list_state_machines()["stateMachines"] == []


def executions(outputs, status=None):
    sfn = boto3.client("stepfunctions")
    found = sfn.list_executions(stateMachineArn=outputs["StateMachineArn"])["executions"]
    return [
        sfn.describe_execution(executionArn=e["executionArn"]) for e in found if status is None or e["status"] == status
    ]


def test_run_starts_the_state_machine_for_the_dt_and_not_twice(deployed, capsys):
    _, _, outputs = deployed
    assert run.main(["--stack", STACK, "--dt", DT, "--no-wait"]) == 0
    assert (
        "started arn:aws:states:us-east-1:123456789012:execution:ra-test-daily:manual-2026-11-27-"
        in capsys.readouterr().out
    )
    assert [json.loads(e["input"]) for e in executions(outputs)] == [{"dt": DT}]
    assert run.main(["--stack", STACK, "--dt", "2026-11-28", "--no-wait"]) == 2
    assert "another run is going: arn:aws:states:" in capsys.readouterr().err
    assert len(executions(outputs)) == 1


def test_run_waits_and_reports_a_failed_run(deployed, capsys, monkeypatch):
    monkeypatch.setenv("SF_EXECUTION_HISTORY_TYPE", "FAILURE")  # moto's executions then end FAILED
    assert run.main(["--stack", STACK, "--dt", DT, "--poll", "0.1", "--timeout", "30"]) == 1
    assert "run FAILED" in capsys.readouterr().out


def test_run_adds_the_same_steps_to_an_existing_cluster_and_prints_where_their_logs_are(deployed, capsys):
    definition, _, outputs = deployed
    emr = boto3.client("emr")
    cluster = emr.run_job_flow(
        Name="long-running",
        ReleaseLabel="emr-spark-8.0.0",
        Applications=[{"Name": "Spark"}],
        Configurations=[{"Classification": "delta-defaults", "Properties": {"delta.enabled": "true"}}],
        Instances={
            "MasterInstanceType": "m5.xlarge",
            "SlaveInstanceType": "m5.xlarge",
            "InstanceCount": 3,
            "KeepJobFlowAliveWhenNoSteps": True,
        },
        JobFlowRole="EMR_EC2_DefaultRole",
        ServiceRole="EMR_DefaultRole",
    )["JobFlowId"]
    # moto's steps never finish: run.py prints their states, then stops waiting at --timeout.
    assert run.main(["--stack", STACK, "--dt", DT, "--cluster-id", cluster, "--poll", "0.1", "--timeout", "0.3"]) == 1
    out = capsys.readouterr().out
    added = emr.list_steps(ClusterId=cluster)["Steps"][::-1]
    assert [s["Name"] for s in added] == ["ingest 2026-11-27", "similarity 2026-11-27"]
    assert [s["Config"]["Args"] for s in added] == [
        s["HadoopJarStep"]["Args"] for s in steps.steps_from_definition(definition, DT)
    ]
    for step in added:
        assert f"logs: {outputs['LogUri']}{cluster}/steps/{step['Id']}/" in out
    assert "stopped waiting (they go on)" in out


def test_run_refuses_a_cluster_without_delta(deployed, capsys):
    emr = boto3.client("emr")
    cluster = emr.run_job_flow(
        Name="plain",
        ReleaseLabel="emr-spark-8.0.0",
        Instances={"MasterInstanceType": "m5.xlarge", "InstanceCount": 1, "KeepJobFlowAliveWhenNoSteps": True},
        JobFlowRole="EMR_EC2_DefaultRole",
        ServiceRole="EMR_DefaultRole",
    )["JobFlowId"]
    assert run.main(["--stack", STACK, "--dt", DT, "--cluster-id", cluster, "--no-wait"]) == 2
    assert "delta-defaults off; the steps need emr-spark-8.0.0 with delta.enabled=true" in capsys.readouterr().err
    assert emr.list_steps(ClusterId=cluster)["Steps"] == []
