"""`make portal-carrier` as a user runs it from a fresh clone: a new interpreter, no PYTHONPATH."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from local.portal_emulator import EmulatedPortal
from local.stack import LocalStack
from local.template import ROOT

NO_CREDENTIALS = {
    "AWS_CONFIG_FILE": "/nonexistent",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_DEFAULT_REGION": "us-east-1",  # the Makefile exports it
}


def portal_carrier(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "PYTHONPATH"}
    return subprocess.run(
        [sys.executable, "-m", "tools.portal_carrier", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_it_configures_a_portal_through_the_table(stack: LocalStack, portal: EmulatedPortal):
    aws = {"AWS_ENDPOINT_URL": stack.aws_endpoint, "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}
    table = ["--table", stack.table_name("PortalsTable"), "--member-id", portal.member_id]
    done = portal_carrier(*table, "--carrier", "sandbox", "--country", "DE", env={**NO_CREDENTIALS, **aws})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["carrier"] == "sandbox"
    shown = portal_carrier(*table, "--show", env={**NO_CREDENTIALS, **aws})
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["default_country"] == "DE"


def test_without_aws_credentials_it_says_so_in_one_line():
    done = portal_carrier("--stack", "b24sms-prod", "--member-id", "m1", "--show", env=NO_CREDENTIALS)
    assert done.returncode == 3
    assert done.stderr.startswith("portal-carrier: Unable to locate credentials"), done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


def test_an_unknown_stack_is_one_line(stack: LocalStack):
    aws = {"AWS_ENDPOINT_URL": stack.aws_endpoint, "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}
    done = portal_carrier("--stack", "no-such-stack", "--member-id", "m1", "--show", env={**NO_CREDENTIALS, **aws})
    assert done.returncode == 3
    assert "no-such-stack" in done.stderr and done.stderr.count("\n") == 1, done.stderr
