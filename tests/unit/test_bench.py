"""`make bench` keeps its figures and stops: a phase cut short or a stuck moto costs no figures."""

from __future__ import annotations

import subprocess
import sys
import time

from bench import run
from local.moto_server import MotoProcess


def test_the_report_says_which_phases_did_not_run():
    text = run.render({"date": "2026-11-25 00:00:00 UTC", "prices_usd": run.PRICES})
    assert text.count("not measured") == 8  # the fleet section and the reconciler's too


def test_a_parser_that_takes_too_long_is_cut_and_reported_as_such(monkeypatch):
    monkeypatch.setattr(run, "PARSER_SIZES", (200, 2000))
    figures = run.parser_scaling(cap=0.001)  # no interpreter starts that fast
    assert figures["list"]["2000"] == {"over_seconds": 0.001}
    assert "ratio" not in figures["list"]
    assert "> 0 s (cut)" in run.render({"date": "-", "parser_scaling": figures})


def test_the_parser_ratio_is_large_keys_over_small_keys(monkeypatch):
    monkeypatch.setattr(run, "PARSER_SIZES", (100, 1000))
    figures = run.parser_scaling(cap=60)
    row = figures["distinct"]
    assert row["ratio"] == row["1000"]["seconds"] / row["100"]["seconds"]


def test_moto_is_killed_when_it_ignores_sigterm():
    moto = MotoProcess.__new__(MotoProcess)
    moto.process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
    )
    assert moto.process.stdout is not None
    assert moto.process.stdout.readline() == b"ready\n"
    started = time.monotonic()
    moto.stop()
    assert moto.process.returncode == -9
    assert time.monotonic() - started < 8


def test_a_batch_get_counts_one_read_per_key(monkeypatch):
    """The ledger's reads include the push's BatchGetItem: n keys are n reads, not 0."""
    import boto3

    from bench.run import AwsCalls
    from tests.moto_alone import moto_alone

    for name, value in {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with moto_alone():
        calls = AwsCalls()
        dynamodb = boto3.resource("dynamodb")
        dynamodb.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        dynamodb.batch_get_item(RequestItems={"t": {"Keys": [{"k": "a"}, {"k": "b"}, {"k": "c"}]}})
        dynamodb.Table("t").get_item(Key={"k": "a"})
        counted = calls.snapshot()
    assert counted["dynamodb.BatchGetItem"] == 3 and counted["dynamodb.GetItem"] == 1
