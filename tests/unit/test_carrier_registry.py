"""Carriers are plug-ins: each module of ``b24sms.adapters.carriers`` declares its carrier (``SPEC``),
and everything that lists carriers agrees with those declarations: the template's Carrier parameter,
the local stack's overridable settings, the portal-carrier CLI, and what dispatch and the inbound
routing read from the specs."""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys

from b24sms.adapters import carriers
from local import settings as local_settings
from local.template import ROOT, Template
from tools import portal_carrier


def test_each_module_declares_one_carrier_and_names_are_unique():
    names = [importlib.import_module(f"b24sms.adapters.carriers.{m}").SPEC.name for m in carriers.MODULES]
    assert len(set(names)) == len(names) == len(carriers.MODULES)
    assert carriers.known() == tuple(names)
    for name in names:
        spec = carriers.spec(name)
        assert spec.settings and all(s.isupper() for s in spec.settings)
        assert not spec.default_sender or spec.default_sender in spec.settings
        assert spec.own_credentials == bool(spec.secret_keys)


def test_the_template_offers_exactly_the_registered_carriers():
    allowed = Template().doc["Parameters"]["Carrier"]["AllowedValues"]
    assert sorted(allowed) == sorted(carriers.known())


def test_the_local_stack_lets_every_carrier_setting_be_overridden():
    for name in carriers.known():
        assert set(carriers.spec(name).settings) <= set(local_settings.OVERRIDABLE), name


def test_the_cli_takes_exactly_the_registered_carriers():
    (option,) = [a for a in portal_carrier.build_parser()._actions if a.dest == "carrier"]
    assert tuple(option.choices or ()) == carriers.known()


def test_opt_out_codes_and_default_senders_come_from_the_carriers():
    assert carriers.opt_out_codes() == {"TWILIO_21610", "AWS_ConflictException_DESTINATION_PHONE_NUMBER_OPTED_OUT"}
    assert [carriers.default_sender_env(n) for n in ("sandbox", "twilio", "vonage", "aws", "nope")] == [
        "",
        "TWILIO_FROM",
        "VONAGE_FROM",
        "AWS_SMS_ORIGINATION_IDENTITY",
        "",
    ]


def test_reading_the_specs_loads_no_http_stack_or_sdk():
    """A function reads every spec (the registry); only the carrier it sends through loads requests or
    boto3 (Powertools itself imports the bare ``botocore`` package: not counted)."""
    code = (
        "import json, sys; from b24sms.adapters import carriers; carriers.specs(); "
        "print(json.dumps([m for m in ('requests', 'boto3') if m in sys.modules]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT / "layers" / "common"
    )
    assert json.loads(done.stdout) == []


def test_no_code_outside_the_carriers_modules_names_a_carrier():
    """A carrier is one module: the page, the routes, the checks and the CLI read its SPEC. Nothing in
    the layer (outside ``adapters/carriers/``), the functions or the tools names a carrier by its id
    (the registry, ``carriers.MODULES``, is the one list of them)."""
    names = {*carriers.known(), *carriers.MODULES}
    alternatives = "|".join(map(re.escape, sorted(names)))
    quoted = re.compile(rf"""["']({alternatives})["']""")
    own = ROOT / "layers" / "common" / "b24sms" / "adapters" / "carriers"
    found = []
    for folder in ("layers/common/b24sms", "functions", "tools"):
        for path in sorted((ROOT / folder).rglob("*")):
            if path.suffix not in (".py", ".html", ".json", ".js") or own in path.parents:
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if quoted.search(line):
                    found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert found == []


def test_a_carrier_verified_by_a_secret_of_its_own_cannot_be_deployed_without_it():
    """Each carrier with a callback secret names the template parameter behind its setting; the
    template passes it to the functions and refuses Carrier=<it> without it (a Rule)."""
    doc = Template().doc
    for name, spec in carriers.specs().items():
        if not spec.callback_secret_setting:
            continue
        parameter = spec.callback_secret_parameter
        assert parameter in doc["Parameters"], name
        env = json.dumps(doc["Globals"]["Function"]["Environment"]["Variables"][f"{spec.callback_secret_setting}_PARAM"])
        assert parameter in env, name
        rules = [r for r in doc["Rules"].values() if r.get("RuleCondition") == {"Fn::Equals": [{"Ref": "Carrier"}, name]}]
        assert any(parameter in json.dumps(r["Assertions"]) for r in rules), name
