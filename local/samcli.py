"""`sam` with `--docker-network host` doing what it says: run with the SAM CLI's interpreter,

    .venv-sam/bin/python -m local.samcli local invoke --docker-network host ...

it is the SAM CLI, except that a container asked for the host network gets it. SAM CLI 1.170 accepts
`--docker-network host` but leaves the container on Docker's default bridge (aws/aws-sam-cli#4236,
#3609; the fix proposed in #7278 was not merged), where 127.0.0.1 is the container itself and the
back ends on this machine's loopback (moto's server, the portal emulator, the local stack) cannot be
reached. On the host network the emulator inside the container (aws-lambda-rie) would listen on
0.0.0.0:8080 and its Runtime API on 127.0.0.1:9001 for every container alike, so each container gets
free loopback ports of its own instead. Nothing else changes: no traffic leaves loopback.
"""

from __future__ import annotations

import sys
from typing import Any


def patch() -> None:
    from samcli.local.docker import container as module  # the SAM CLI's own virtualenv

    original = module.Container.create
    if getattr(original, "_b24sms_host_network", False):
        return

    def create(self: Any, context: Any) -> Any:
        if self.network_id == "host" and self._entrypoint and str(self._entrypoint[0]).endswith("aws-lambda-rie"):
            api_port = module.find_free_port(network_interface="127.0.0.1", start=9001, end=9999)
            self._entrypoint = [
                self._entrypoint[0],
                "--runtime-interface-emulator-address",
                f"127.0.0.1:{self.rapid_port_host}",
                "--runtime-api-address",
                f"127.0.0.1:{api_port}",
                *self._entrypoint[1:],
            ]
            self._container_opts = {**(self._container_opts or {}), "network_mode": "host"}
            self._exposed_ports = None
        return original(self, context)

    create._b24sms_host_network = True  # type: ignore[attr-defined]
    module.Container.create = create  # type: ignore[method-assign]

    # Docker refuses port bindings on the host network: the ports are the host's own already.
    from docker.models.containers import ContainerCollection

    create_container = ContainerCollection.create

    def create_on_host(self: Any, image: Any, command: Any = None, **kwargs: Any) -> Any:
        if kwargs.get("network_mode") == "host":
            kwargs.pop("ports", None)
        return create_container(self, image, command, **kwargs)

    ContainerCollection.create = create_on_host  # type: ignore[method-assign]


def main() -> None:
    patch()
    from samcli.cli.main import cli

    sys.argv[0] = "sam"
    cli(prog_name="sam")


if __name__ == "__main__":
    main()
