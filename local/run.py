"""`make run`: serve the whole bundle on 127.0.0.1:$PORT until interrupted."""

from __future__ import annotations

import os
import signal
import threading
import time

from local.stack import LocalStack


def main() -> None:
    port = int(os.environ.get("PORT", "3000"))
    moto_port = int(os.environ.get("MOTO_PORT", "0"))
    started = time.monotonic()
    stack = LocalStack(port=port, moto_port=moto_port).start()
    base = stack.environment["PUBLIC_BASE_URL"]
    print(f"b24sms local stack on {stack.base_url} (public base URL {base})")
    print(f"DynamoDB and SQS (moto): {stack.aws_endpoint}")
    if stack.remote:
        print(f"functions: each in its Lambda container, through sam local start-lambda on 127.0.0.1:{stack.remote.port}")
    print(f"carrier: {stack.environment['CARRIER']}; Bitrix24 OAuth: {stack.environment['BITRIX_OAUTH_URL']}")
    if not stack.remote:
        how = "enforced" if stack.iam_mode == "enforce" else "recorded, not enforced"
        print(f"permissions: each function's deployed role, {how} (local/iam/policies.json; LOCAL_IAM=record|enforce)")
    print("routes:")
    for route in stack.routes:
        print(f"  {route.method:5} {route.path:28} -> {route.function}")
    for trigger in stack.template.queue_triggers():
        print(f"  queue {trigger.queue:28} -> {trigger.function} (batch {trigger.batch_size})")
    for function, seconds in stack.template.schedules():
        print(f"  every {seconds:.0f}s{'':22} -> {function}")
    print(f"install URL to give the portal: {base}/bitrix/install")
    print(f"started in {time.monotonic() - started:.1f} s. Ctrl-C stops.", flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        done.wait()
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
