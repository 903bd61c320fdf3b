"""Run one dt's batch from a shell: start the deployed state machine, or add its steps to a running cluster.

    python -m scripts.emr.run --stack related-artists --dt 2026-11-27                 # a transient cluster, as the schedule does
    python -m scripts.emr.run --stack related-artists --dt 2026-11-27 --cluster-id j-XXXXXXXXXXXXX

Without --cluster-id it starts the stack's state machine with that dt (refused while another run is
going) and waits for it. With --cluster-id it adds the same two steps the state machine runs (read from
the deployed definition) to that cluster, which must run the same release with Delta enabled and the
bootstrap action, and waits for them. While waiting it prints each step's state as it changes and where
its logs are (LogUri/<cluster>/steps/<step>/: controller, stdout, stderr; the driver's own log is under
LogUri/<cluster>/containers/). Exit status: 0 done, 1 the run or a step failed (or --timeout passed),
2 bad settings or another run going (nothing started).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from jobs.common.lake import parse_dt
from scripts.emr import steps
from scripts.emr.aws import AwsError, clients, require_credentials, stack_outputs
from shared.version import program_parser

STEP_DONE = {"COMPLETED", "CANCELLED", "FAILED", "INTERRUPTED"}
EXECUTION_DONE = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


class RunRefused(RuntimeError):
    """Nothing was started: the message says why."""


def parse_args(argv: Sequence[str] | None):
    parser = program_parser(
        "python -m scripts.emr.run",
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 2)[2],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--stack", required=True, help="the stack python -m scripts.emr.deploy created")
    parser.add_argument("--dt", required=True, type=_dt, help="snapshot date YYYY-MM-DD")
    parser.add_argument("--cluster-id", help="add the steps to this running cluster instead (j-...)")
    parser.add_argument("--no-wait", action="store_true", help="start and return")
    parser.add_argument("--poll", type=float, default=30, help="seconds between looks (default 30)")
    parser.add_argument("--timeout", type=float, default=6 * 3600, help="stop waiting after this many seconds")
    parser.add_argument("--region", help="AWS region (default: boto3's, e.g. AWS_REGION)")
    return parser.parse_args(argv)


def _dt(text: str) -> str:
    try:
        return parse_dt(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def start_execution(sfn, machine: str, dt: str) -> str:
    """Start the state machine for ``dt``; refused while another execution of it is running."""
    running = sfn.list_executions(stateMachineArn=machine, statusFilter="RUNNING", maxResults=10)["executions"]
    if running:
        raise RunRefused(
            f"another run is going: {running[0]['executionArn']} (started "
            f"{running[0]['startDate']:%Y-%m-%d %H:%M %Z}); wait for it or stop it first"
        )
    name = f"manual-{dt}-{datetime.now(UTC):%Y%m%dT%H%M%S}"
    return sfn.start_execution(stateMachineArn=machine, name=name, input=json.dumps({"dt": dt}))["executionArn"]


def cluster_of(sfn, execution: str) -> str | None:
    """The cluster an execution created, once its CreateCluster state has finished."""
    pages = sfn.get_paginator("get_execution_history").paginate(executionArn=execution)
    for event in (e for page in pages for e in page["events"]):
        details = event.get("stateExitedEventDetails") or {}
        if details.get("name") == "CreateCluster":
            return json.loads(details.get("output") or "{}").get("ClusterId")
    return None


class StepWatch:
    """Prints each step's state when it changes, with where its logs are."""

    def __init__(self, emr, cluster: str, log_uri: str, say: Callable[[str], None] = print):
        self.emr, self.cluster, self.log_uri, self.say = emr, cluster, log_uri.rstrip("/") + "/", say
        self.seen: dict[str, str] = {}

    def look(self) -> list[dict]:
        found = [
            s for page in self.emr.get_paginator("list_steps").paginate(ClusterId=self.cluster) for s in page["Steps"]
        ]
        for step in reversed(found):  # EMR lists the newest first
            state = step["Status"]["State"]
            if self.seen.get(step["Id"]) != state:
                self.seen[step["Id"]] = state
                reason = (step["Status"].get("FailureDetails") or {}).get("Reason", "")
                self.say(
                    f"  step {step['Name']:<24} {state:<11} logs: {self.log_uri}{self.cluster}/steps/{step['Id']}/"
                    + (f"  ({reason})" if reason else "")
                )
        return found


def wait_execution(sfn, emr, execution: str, log_uri: str, poll: float, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    watch = None
    while True:
        described = sfn.describe_execution(executionArn=execution)
        if watch is None:
            cluster = cluster_of(sfn, execution)
            if cluster:
                print(f"cluster {cluster}; driver logs: {log_uri.rstrip('/')}/{cluster}/containers/")
                watch = StepWatch(emr, cluster, log_uri)
        if watch is not None:
            watch.look()
        status = described["status"]
        if status in EXECUTION_DONE:
            print(
                f"run {status}"
                + (f": {described.get('error', '')}: {described.get('cause', '')}" if status != "SUCCEEDED" else "")
            )
            return 0 if status == "SUCCEEDED" else 1
        if time.monotonic() >= deadline:
            print(f"still {status} after {timeout:g} s: stopped waiting (the run goes on)")
            return 1
        time.sleep(poll)


def add_steps(sfn, emr, machine: str, cluster: str, dt: str) -> list[str]:
    """Add the deployed state machine's steps for ``dt`` to ``cluster``; returns their ids."""
    definition = sfn.describe_state_machine(stateMachineArn=machine)["definition"]
    try:
        wanted = steps.steps_from_definition(definition, dt)
        release = json.loads(definition)["States"]["CreateCluster"]["Arguments"]["ReleaseLabel"]
    except (steps.DefinitionError, KeyError, ValueError) as exc:
        raise RunRefused(f"cannot read the steps of {machine}: {exc}") from None
    found = emr.describe_cluster(ClusterId=cluster)["Cluster"]
    delta = any(
        c.get("Classification") == "delta-defaults" and (c.get("Properties") or {}).get("delta.enabled") == "true"
        for c in found.get("Configurations", [])
    )
    if found.get("ReleaseLabel") != release or not delta:
        raise RunRefused(
            f"cluster {cluster} runs {found.get('ReleaseLabel')} with delta-defaults "
            f"{'on' if delta else 'off'}; the steps need {release} with delta.enabled=true"
        )
    if found["Status"]["State"] not in ("STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING"):
        raise RunRefused(f"cluster {cluster} is {found['Status']['State']}: it takes no steps")
    return emr.add_job_flow_steps(JobFlowId=cluster, Steps=wanted)["StepIds"]


def wait_steps(emr, cluster: str, ids: Sequence[str], log_uri: str, poll: float, timeout: float) -> int:
    deadline, watch = time.monotonic() + timeout, StepWatch(emr, cluster, log_uri)
    while True:
        mine = [s for s in watch.look() if s["Id"] in ids]
        states = [s["Status"]["State"] for s in mine]
        if len(mine) == len(ids) and all(state in STEP_DONE for state in states):
            print("steps " + ("COMPLETED" if set(states) == {"COMPLETED"} else "FAILED"))
            return 0 if set(states) == {"COMPLETED"} else 1
        if time.monotonic() >= deadline:
            print(f"steps still {', '.join(states)} after {timeout:g} s: stopped waiting (they go on)")
            return 1
        time.sleep(poll)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    from botocore.exceptions import ClientError

    try:
        sfn, emr, cloudformation, sts = clients("stepfunctions", "emr", "cloudformation", "sts", region=args.region)
        require_credentials(sts)
        outputs = stack_outputs(cloudformation, args.stack)
        machine, log_uri = outputs["StateMachineArn"], outputs["LogUri"]
        if args.cluster_id:
            ids = add_steps(sfn, emr, machine, args.cluster_id, args.dt)
            print(f"added steps {', '.join(ids)} for dt={args.dt} to cluster {args.cluster_id}")
            return 0 if args.no_wait else wait_steps(emr, args.cluster_id, ids, log_uri, args.poll, args.timeout)
        execution = start_execution(sfn, machine, args.dt)
        print(f"started {execution} for dt={args.dt}")
        return 0 if args.no_wait else wait_execution(sfn, emr, execution, log_uri, args.poll, args.timeout)
    except (AwsError, RunRefused) as exc:
        print(f"run: {exc}; nothing was started", file=sys.stderr)
        return 2
    except ClientError as exc:
        print(f"run: AWS refused: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
