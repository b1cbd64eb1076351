"""What each carrier's send makes of a connection that fails: retried only when the request cannot
have reached the carrier (connection refused, DNS, connect timeout); once the carrier has read it
(closed without an answer, stalled, reset mid-answer) the outcome is unknown and nothing re-sends it,
neither our code nor requests', urllib3's or botocore's retries. Counted at the carriers' fakes."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator

import pytest

from b24sms.adapters.carriers import CarrierOutcomeUnknown, OutboundSms, TransientCarrierError
from b24sms.adapters.carriers.aws_sms import AwsSmsCarrier, _client
from b24sms.adapters.carriers.twilio import TwilioCarrier
from b24sms.adapters.carriers.vonage import VonageCarrier
from local.fakes.aws_sms import AwsSmsFake
from local.fakes.faults import MODES
from local.fakes.twilio import TwilioFake
from local.fakes.vonage import VonageFake

TIMEOUT = 0.5  # the client's; the fakes stall past it


@pytest.fixture(scope="module")
def twilio() -> Iterator[TwilioFake]:
    fake = TwilioFake().start()
    fake.faults.stall_seconds = TIMEOUT * 2
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def vonage() -> Iterator[VonageFake]:
    fake = VonageFake().start()
    fake.faults.stall_seconds = TIMEOUT * 2
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def aws() -> Iterator[AwsSmsFake]:
    fake = AwsSmsFake().start()
    fake.faults.stall_seconds = TIMEOUT * 2
    yield fake
    fake.stop()


@pytest.fixture(autouse=True)
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


def sms(key: str) -> OutboundSms:
    return OutboundSms(key, "+15550170001", "hello", "https://sms.example.com/carriers/x/status")


def twilio_carrier(fake: TwilioFake, base: str = "") -> TwilioCarrier:
    base = base or fake.base_url
    return TwilioCarrier(fake.account_sid, fake.auth_token, sender="+15005550006", api_base=base, timeout=TIMEOUT)


def vonage_carrier(fake: VonageFake, base: str = "") -> VonageCarrier:
    return VonageCarrier(fake.api_key, fake.api_secret, sender="AcmeInc", api_base=base or fake.base_url, timeout=TIMEOUT)


def aws_carrier(base: str) -> AwsSmsCarrier:
    return AwsSmsCarrier(origination_identity="+15005550006", configuration_set="", endpoint_url=base, timeout=TIMEOUT)


def aws_received(fake: AwsSmsFake, key: str) -> int:
    return sum(1 for r in fake.received if (r.get("Context") or {}).get("b24_key") == key)


def closed_port() -> str:
    """A loopback URL nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.mark.parametrize("mode", MODES)
def test_twilio_after_the_request_is_read_is_unknown_and_sent_once(twilio: TwilioFake, mode: str):
    key = f"m.{uuid.uuid4().hex}"
    twilio.faults.next(mode)
    with pytest.raises(CarrierOutcomeUnknown):
        twilio_carrier(twilio).send(sms(key))
    assert twilio.received_for(key) == 1


@pytest.mark.parametrize("mode", MODES)
def test_vonage_after_the_request_is_read_is_unknown_and_sent_once(vonage: VonageFake, mode: str):
    key = f"m.{uuid.uuid4().hex}"
    vonage.faults.next(mode)
    with pytest.raises(CarrierOutcomeUnknown):
        vonage_carrier(vonage).send(sms(key))
    assert vonage.received_for(key) == 1


@pytest.mark.parametrize("mode", MODES)
def test_aws_after_the_request_is_read_is_unknown_and_sent_once(aws: AwsSmsFake, mode: str):
    key = f"m.{uuid.uuid4().hex}"
    aws.faults.next(mode)
    with pytest.raises(CarrierOutcomeUnknown):
        aws_carrier(aws.base_url).send(sms(key))
    assert aws_received(aws, key) == 1


def test_a_refused_connection_is_retried_later_by_every_carrier(twilio: TwilioFake, vonage: VonageFake):
    base = closed_port()
    for carrier in (twilio_carrier(twilio, base), vonage_carrier(vonage, base), aws_carrier(base)):
        with pytest.raises(TransientCarrierError) as raised:
            carrier.send(sms("m.refused"))
        assert not isinstance(raised.value, CarrierOutcomeUnknown), carrier.name


def test_a_name_that_does_not_resolve_is_retried_later(twilio: TwilioFake, vonage: VonageFake):
    base = "http://no-such-host.invalid"
    for carrier in (twilio_carrier(twilio, base), vonage_carrier(vonage, base)):
        with pytest.raises(TransientCarrierError) as raised:
            carrier.send(sms("m.dns"))
        assert not isinstance(raised.value, CarrierOutcomeUnknown), carrier.name


def test_the_fakes_refuse_then_listen_again(twilio: TwilioFake):
    key = f"m.{uuid.uuid4().hex}"
    twilio.refuse_for(0.5)
    with pytest.raises(TransientCarrierError) as raised:
        twilio_carrier(twilio).send(sms(key))
    assert not isinstance(raised.value, CarrierOutcomeUnknown)
    assert twilio.received_for(key) == 0
    time.sleep(0.8)
    assert twilio_carrier(twilio).send(sms(key)).carrier_message_id.startswith("SM")
    assert twilio.received_for(key) == 1


def test_botocore_makes_one_attempt():
    client = _client("us-east-1", "http://127.0.0.1:1", 1.0)
    assert client.meta.config.retries["total_max_attempts"] == 1


def test_a_certificate_refused_at_the_handshake_is_retried_later(tmp_path, twilio: TwilioFake):
    """A TLS certificate is verified before any byte of the request is sent: the carrier cannot have
    it (a carrier's own TLS trouble, or a man in the middle), so it is retried, never 'unknown'."""
    import datetime
    import ssl
    import threading

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    requests_read: list[bytes] = []

    def serve() -> None:
        conn, _ = listener.accept()
        try:
            with context.wrap_socket(conn, server_side=True) as tls:
                requests_read.append(tls.recv(65536))
        except (ssl.SSLError, OSError):
            pass  # the client refused our certificate

    threading.Thread(target=serve, daemon=True).start()
    base = f"https://127.0.0.1:{listener.getsockname()[1]}"
    try:
        with pytest.raises(TransientCarrierError) as raised:
            twilio_carrier(twilio, base).send(sms("m.tls"))
        assert not isinstance(raised.value, CarrierOutcomeUnknown)
        assert raised.value.code == "TWILIO_UNREACHABLE" and not requests_read
    finally:
        listener.close()
