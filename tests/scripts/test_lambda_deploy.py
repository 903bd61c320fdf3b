"""The chatbot Lambda's deployment: the zip scripts/lambda/build_zip.py builds, and the SAM template."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from cfnlint.decode.cfn_yaml import load as load_cfn_yaml

from shared.version import UNKNOWN
from tests.support.cfn_lint import cfn_lint
from tests.support.iam import iam_statements
from tests.support.paths import REPO

BUILD = REPO / "scripts" / "lambda" / "build_zip.py"
TEMPLATE = REPO / "scripts" / "lambda" / "template.yaml"
SIZE_LINE = re.compile(r"^wrote (?P<path>.+): (?P<files>\d+) files, (?P<mb>\d+\.\d+) MB$")
SECRET_PARAMETERS = {"MartPasswordSecretArn", "SpotifyCredentialsSecretArn", "SkillSecretArn", "RequestKeySecretArn"}


def on_lambda_path(path: Path, *arguments: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    """``python -c ...`` with ``path`` (the zip, or the folder it was extracted to) and the standard library
    alone on its path, as on Lambda (minus boto3): PYTHONPATH, no site-packages, no working directory."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    return subprocess.run(
        [sys.executable, "-P", "-s", "-S", *arguments],
        env={**env, "PYTHONPATH": str(path)},
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
    )


def build_zip(out: Path, *options: str) -> subprocess.CompletedProcess:
    """Run the build script as the README says to, writing ``out``."""
    return subprocess.run(
        [sys.executable, str(BUILD), "--out", str(out), *options], capture_output=True, text=True, cwd=REPO, timeout=120
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One build shared by the tests that only read the zip: (zip path, finished process)."""
    out = tmp_path_factory.mktemp("lambda") / "chatbot_lambda.zip"
    return out, build_zip(out)


@pytest.fixture(scope="module")
def template():
    return load_cfn_yaml(str(TEMPLATE))


def test_build_prints_the_size_and_packs_the_packages_and_pymysql(built):
    out, done = built
    assert done.returncode == 0, done.stderr
    line = SIZE_LINE.match(done.stdout.strip())
    assert line, done.stdout
    assert Path(line["path"]) == out and float(line["mb"]) < 15
    with zipfile.ZipFile(out) as zf:
        infos = zf.infolist()
    names = {info.filename for info in infos}
    assert int(line["files"]) == sum(not name.endswith("/") for name in names)
    assert {
        "chatbot_lambda/handler.py",
        "chatbot_lambda/settings.py",
        "mart/serving.py",
        "mart/ddl/mysql.sql",
        "pymysql/__init__.py",
    } <= names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc") or n.startswith(("tests/", "jobs/"))]
    assert not [n for n in names if n.startswith("boto")], "the Lambda runtime provides boto3"
    files = [info for info in infos if not info.is_dir()]
    assert {info.date_time for info in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {info.external_attr >> 16 for info in files} == {0o100644}
    assert {info.compress_type for info in files} == {zipfile.ZIP_DEFLATED}
    assert [info.filename for info in infos] == sorted(names)


def test_the_packages_import_from_the_zip_alone(built, tmp_path):
    """Only the zip and the standard library on sys.path, as on Lambda (minus boto3)."""
    out, _ = built
    probe = """if True:
        import importlib
        try:
            import pyspark  # noqa: F401  (installed in the venv: must not be visible here)
            print("pyspark", pyspark.__file__)
        except ImportError:
            pass
        for name in ("chatbot_lambda.settings", "chatbot_lambda.handler", "mart.serving", "pymysql"):
            try:
                print(name, importlib.import_module(name).__file__)
            except Exception as exc:
                print(name, "failed:", repr(exc))
    """
    done = on_lambda_path(out, "-c", probe, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    found = dict(line.split(" ", 1) for line in done.stdout.splitlines())
    assert "pyspark" not in found, "the venv's site-packages leaked into the isolated interpreter"
    assert found == {
        "chatbot_lambda.settings": f"{out}/chatbot_lambda/settings.py",
        "chatbot_lambda.handler": f"{out}/chatbot_lambda/handler.py",
        "mart.serving": f"{out}/mart/serving.py",
        "pymysql": f"{out}/pymysql/__init__.py",
    }


def test_the_chatbot_command_runs_from_the_zip_alone_with_the_fallback_version(built, tmp_path):
    """No installed distribution in the zip: --version says so instead of failing, and --help works."""
    out, _ = built
    done = on_lambda_path(out, "-m", "chatbot_lambda", "--version", cwd=tmp_path)
    assert (done.returncode, done.stdout, done.stderr) == (0, f"python -m chatbot_lambda {UNKNOWN}\n", "")
    done = on_lambda_path(out, "-m", "chatbot_lambda", "--help", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: python -m chatbot_lambda ")


def test_the_extracted_zip_can_log_in_with_caching_sha2_password(built, tmp_path):
    """Lambda runs the zip extracted: cryptography (a compiled wheel for the runtime) imports from it alone,
    and PyMySQL's RSA step of MySQL 8's default caching_sha2_password full login runs with it."""
    out, _ = built
    with zipfile.ZipFile(out) as zf:
        assert {"cryptography/__init__.py", "cffi/__init__.py", "pycparser/__init__.py"} <= set(zf.namelist())
        zf.extractall(tmp_path / "task")
    probe = """if True:
        import cryptography, pymysql._auth as auth
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import padding, rsa
        from cryptography.hazmat.primitives import hashes
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
        salt = b"0123456789abcdefghij"
        sealed = auth.sha2_rsa_encrypt(b"s3cret", salt, pem)
        plain = key.decrypt(sealed, padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA1()),
                                                 algorithm=hashes.SHA1(), label=None))
        print(cryptography.__file__)
        print(auth._xor_password(b"s3cret" + b"\\0", salt) == plain)
    """
    done = on_lambda_path(tmp_path / "task", "-c", probe, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [f"{tmp_path / 'task'}/cryptography/__init__.py", "True"]


def test_a_ca_bundle_ships_in_the_zip_for_mart_ssl_ca(tmp_path):
    bundle = tmp_path / "global-bundle.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    done = build_zip(tmp_path / "with_ca.zip", "--ca-bundle", str(bundle))
    assert done.returncode == 0, done.stderr
    with zipfile.ZipFile(tmp_path / "with_ca.zip") as zf:
        assert zf.read("certs/mart-ca.pem") == bundle.read_bytes()
    not_pem = tmp_path / "key.txt"
    not_pem.write_text("hello")
    done = build_zip(tmp_path / "bad.zip", "--ca-bundle", str(not_pem))
    assert done.returncode == 1 and "is not a file of PEM certificates" in done.stderr
    assert not (tmp_path / "bad.zip").exists()


def test_building_twice_gives_the_same_bytes(built, tmp_path):
    first, _ = built
    again = build_zip(tmp_path / "again.zip")
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "again.zip").read_bytes() == first.read_bytes()


def test_a_zip_over_the_size_limit_fails_and_is_removed(tmp_path):
    out = tmp_path / "too_big.zip"
    done = build_zip(out, "--max-mb", "0.001")
    assert done.returncode == 1
    assert "over the 0.001 MB limit" in done.stderr and done.stdout == ""
    assert not out.exists()


def test_the_template_passes_cfn_lint():
    done = cfn_lint(TEMPLATE, timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_the_function_runs_the_handler_within_kakaos_five_seconds(template):
    function = template["Resources"]["ChatbotFunction"]
    assert function["Type"] == "AWS::Serverless::Function"
    props = function["Properties"]
    assert props["Handler"] == "chatbot_lambda.handler.lambda_handler"
    assert props["Runtime"] == "python3.11" and props["CodeUri"] == "../../dist/chatbot_lambda.zip"
    assert props["Timeout"] <= 5
    assert float(template["Parameters"]["TimeBudgetSeconds"]["Default"]) < props["Timeout"]
    assert props["Events"]["Skill"]["Properties"] == {"ApiId": {"Ref": "SkillApi"}, "Path": "/skill", "Method": "POST"}


def test_the_function_environment_names_settings_the_chatbot_reads(template):
    settings = (REPO / "chatbot_lambda" / "settings.py").read_text()
    variables = template["Resources"]["ChatbotFunction"]["Properties"]["Environment"]["Variables"]
    assert {"MART_URL", "MART_USER", "MART_PASSWORD_SECRET", "REQUEST_KEY_SECRET"} <= variables.keys()
    assert [name for name in variables if f'"{name}"' not in settings] == []


def test_the_role_reads_only_the_given_secrets(template):
    statements = list(iam_statements(template["Resources"]["ChatbotRole"]["Properties"]["Policies"]))
    secret_statements = [s for s in statements if "secretsmanager" in str(s["Action"])]
    assert secret_statements
    for statement in secret_statements:
        assert statement["Action"] == "secretsmanager:GetSecretValue"
        assert "*" not in str(statement["Resource"]), statement
    assert {s["Resource"]["Ref"] for s in secret_statements} == SECRET_PARAMETERS
    assert [s for s in statements if "logs:" in str(s["Action"]) and "*" in str(s["Resource"])] == []


def _evaluate(node, parameters: dict):
    """A rule assertion's value for ``parameters`` (the template's defaults under the given ones): the
    intrinsic functions CloudFormation allows in Rules that this template uses."""
    if not isinstance(node, dict):
        return node
    ((name, args),) = node.items()
    if name == "Ref":
        return parameters[args]
    values = [_evaluate(arg, parameters) for arg in args] if isinstance(args, list) else _evaluate(args, parameters)
    if name == "Fn::Equals":
        return str(values[0]) == str(values[1])
    if name == "Fn::Not":
        return not values[0]
    if name == "Fn::Or":
        return any(values)
    if name == "Fn::And":
        return all(values)
    if name == "Fn::EachMemberEquals":
        return all(member == values[1] for member in values[0])
    raise AssertionError(f"unknown function {name} in a rule")


def _failed_rules(template, **given) -> list[str]:
    parameters = {name: p.get("Default", "") for name, p in template["Parameters"].items()}
    parameters.update(given)
    for name, p in template["Parameters"].items():
        if p["Type"] == "CommaDelimitedList":
            parameters[name] = str(parameters[name]).split(",")
    return [
        name
        for name, rule in template["Rules"].items()
        for assertion in rule["Assertions"]
        if not _evaluate(assertion["Assert"], parameters)
    ]


SECRET_ARN = "arn:aws:secretsmanager:ap-northeast-2:123456789012:secret:skill-AbCdEf"


def test_the_skill_secret_is_required_unless_explicitly_waived(template):
    assert _failed_rules(template) == ["SkillSecretRequiredUnlessWaived"]  # the defaults do not deploy
    assert _failed_rules(template, AllowUnsignedRequests="false") == ["SkillSecretRequiredUnlessWaived"]
    assert _failed_rules(template, SkillSecretArn=SECRET_ARN) == []
    assert _failed_rules(template, AllowUnsignedRequests="true") == []
    assert template["Parameters"]["AllowUnsignedRequests"]["AllowedValues"] == ["true", "false"]
    # The waiver is a deliberate choice: a VPC rule still holds on its own.
    assert _failed_rules(template, AllowUnsignedRequests="true", SubnetIds="subnet-1") == [
        "VpcNeedsSubnetsAndSecurityGroups"
    ]


def test_a_burst_is_bounded_by_reserved_concurrency_and_the_api_throttle(template):
    props = template["Resources"]["ChatbotFunction"]["Properties"]
    assert props["ReservedConcurrentExecutions"] == {"Ref": "ReservedConcurrency"}
    api = template["Resources"]["SkillApi"]
    assert api["Type"] == "AWS::Serverless::HttpApi"
    assert api["Properties"]["DefaultRouteSettings"] == {
        "ThrottlingRateLimit": {"Ref": "ThrottleRateLimit"},
        "ThrottlingBurstLimit": {"Ref": "ThrottleBurstLimit"},
    }
    parameters = template["Parameters"]
    for name in ("ReservedConcurrency", "ThrottleRateLimit", "ThrottleBurstLimit"):
        assert parameters[name]["Type"] == "Number" and parameters[name]["MinValue"] >= 1
        assert parameters[name]["Default"] >= 1
    assert "${SkillApi}" in str(template["Outputs"]["SkillUrl"]["Value"])


def test_the_request_key_is_a_required_secret_never_a_default(template):
    """No built-in key: the stack cannot be created without the secret holding it, and the function
    reads it from there (the chatbot refuses to start without one: tests/chatbot_lambda/test_units.py)."""
    parameter = template["Parameters"]["RequestKeySecretArn"]
    assert "Default" not in parameter
    pattern = re.compile(parameter["AllowedPattern"])
    assert pattern.fullmatch(SECRET_ARN)
    assert not pattern.fullmatch("") and not pattern.fullmatch(SECRET_ARN.rsplit(":", 1)[0] + ":*")
    variables = template["Resources"]["ChatbotFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["REQUEST_KEY_SECRET"] == {"Ref": "RequestKeySecretArn"} and "REQUEST_KEY" not in variables
