"""Give one portal its own carrier, sender and credentials, or send it back to the deployment's default:

    python -m tools.portal_carrier --stack b24sms-prod --member-id <id> --carrier twilio \\
        --sender +15005550006 --country US --credentials b24sms/prod/acme-twilio
    python -m tools.portal_carrier --stack b24sms-prod --member-id <id> --default
    python -m tools.portal_carrier --stack b24sms-prod --member-id <id> --show
    python -m tools.portal_carrier --stack b24sms-prod --member-id <id> --routes "+7=smsru, fallback=twilio" \
        --route-account smsru=b24sms/prod/acme-smsru --route-account "twilio=b24sms/prod/acme-twilio:+15005550006"
    python -m tools.portal_carrier --stack b24sms-prod --member-id <id> --routes ""   # the deployment's routing

Routing (docs/carriers.md, "Failover and routing by country"): destination (ISO region RU, calling code
+7, or *) = carrier, and fallback = carrier; ``--route-account CARRIER=SECRET[:SENDER]`` gives the portal's
own account for a carrier the routing names (else the deployment's account of that carrier sends).

Credentials live in Secrets Manager (a JSON secret under the stack's CarrierSecretsPrefix, b24sms/<Stage>/
by default; keys in docs/carriers.md); only the secret's name is stored with the portal. The secret is
read once here to check it. Runs with your AWS credentials; the change applies within seconds.

A carrier whose callbacks are verified by a secret of their own (Vonage's ``signature_secret``, SMS.ru's
``callback_secret``) needs it in the portal's secret, or the deployment's (learnt from the stack's
parameter the carrier's SPEC names, e.g. VonageSignatureSecretParameter, with --stack; with --table,
export <SETTING>_PARAM, e.g. VONAGE_SIGNATURE_SECRET_PARAM). A setup with neither is refused.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

# The shared layer is a plain folder in a clone (in Lambda it is /opt/python): put it on the path.
_LAYER = str(Path(__file__).resolve().parent.parent / "layers" / "common")
if _LAYER not in sys.path:
    sys.path.insert(0, _LAYER)


def _table_from_stack(stack: str) -> str:
    import boto3

    resource = boto3.client("cloudformation").describe_stack_resource(StackName=stack, LogicalResourceId="PortalsTable")
    return str(resource["StackResourceDetail"]["PhysicalResourceId"])


def _deployment_settings(stack: str) -> None:
    """What a save checks about the deployment itself, from the stack's parameters (this runs on an
    operator's machine, not in the stack): whether it has each carrier's callback secret (Vonage's
    signature secret, SMS.ru's), the one a portal without its own is verified with (else such a setup
    is refused)."""
    import boto3

    from b24sms.adapters import carriers  # the layer is on sys.path only once this module has run its top

    described = boto3.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
    parameters = {p["ParameterKey"]: p.get("ParameterValue", "") for p in described.get("Parameters", [])}
    stage = parameters.get("Stage", "")
    for spec in carriers.specs().values():
        name = parameters.get(spec.callback_secret_parameter, "") if spec.callback_secret_parameter else ""
        if name:  # as the template sets it for the functions
            os.environ.setdefault(f"{spec.callback_secret_setting}_PARAM", f"/b24sms/{stage}/{name}")


def build_parser() -> argparse.ArgumentParser:
    from b24sms.adapters import carriers  # the layer is on sys.path only once this module has run its top

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--stack", help="the deployed stack's name (its PortalsTable is used)")
    where.add_argument("--table", help="the portals table's name")
    parser.add_argument("--member-id", required=True)
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--carrier", choices=carriers.known(), help=", ".join(carriers.known()))
    action.add_argument("--default", action="store_true", help="use the deployment's default carrier again")
    action.add_argument("--show", action="store_true", help="print the portal's carrier configuration")
    action.add_argument("--routes", help='routing by destination and fallback, e.g. "+7=smsru, *=twilio, fallback=vonage"')
    parser.add_argument("--route-account", action="append", default=[], metavar="CARRIER=SECRET[:SENDER]", help="with --routes")
    parser.add_argument("--sender", default="", help="number, alphanumeric sender id, Twilio MG… service, or AWS pool")
    parser.add_argument("--country", default="", help="ISO country for national numbers, e.g. RU")
    parser.add_argument("--credentials", default="", help="Secrets Manager secret name or ARN")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return _run(args)
    except (BotoCoreError, ClientError) as exc:  # no credentials, no region, no such stack, access denied…
        hint = "it runs with your AWS credentials and region (AWS_PROFILE, AWS_DEFAULT_REGION)"
        print(f"portal-carrier: {exc}; {hint}", file=sys.stderr)
        return 3


def _run(args: argparse.Namespace) -> int:
    table = args.table or _table_from_stack(args.stack)
    if args.stack and not args.show:
        _deployment_settings(args.stack)
    os.environ.update({"PORTALS_TABLE": table, "MESSAGES_TABLE": "-", "LIMITS_TABLE": "-"})
    os.environ.update({"OUTBOUND_QUEUE_URL": "-", "STATUS_QUEUE_URL": "-", "BITRIX_CLIENT_ID": "-"})
    from b24sms.adapters import store
    from b24sms.domain.models import CarrierConfig
    from b24sms.usecases import portal_carriers

    if args.show:
        portal = store.portals.get_portal(args.member_id)
        if portal is None:
            print(f"no portal {args.member_id}", file=sys.stderr)
            return 1
        shown = dict(portal.carrier_config or {"carrier": "(deployment default)"})
        print(
            json.dumps(
                {**shown, "routing": portal.routing, "accounts": portal.carrier_accounts} if portal.routing else shown, indent=2
            )
        )
        return 0
    if args.routes is not None:
        return _routes(args)
    config = None if args.default else CarrierConfig(args.carrier, args.sender, args.country, args.credentials)
    try:
        saved = portal_carriers.configure(args.member_id, config)
    except (portal_carriers.InvalidCarrierConfig, LookupError) as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(saved.to_item() if saved else {"carrier": "(deployment default)"}, indent=2))
    return 0


def _routes(args: argparse.Namespace) -> int:
    from b24sms.domain import routing
    from b24sms.domain.models import CarrierConfig
    from b24sms.usecases import portal_carriers

    accounts = []
    for given in args.route_account:
        carrier, _, rest = given.partition("=")
        secret, _, sender = rest.partition(":")
        accounts.append(CarrierConfig(carrier.strip(), sender.strip(), "", secret.strip()))
    try:
        table = portal_carriers.configure_routing(args.member_id, routing.parse(args.routes), accounts)
    except (routing.InvalidRouting, portal_carriers.InvalidCarrierConfig, LookupError) as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(table.to_item() or {"routing": "(deployment's)"}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
