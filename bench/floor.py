"""The poll's floor on this machine: the same calls with none of the function's own work.

Workload A's poll is measured against the latency bound (waves of `concurrency` calls of the
emulator's latency), but the emulator and moto run on the same cores as the function, so part
of every call's time is theirs. This process makes the poll's requests as cheaply as a client
can (signed, one pooled urllib3 connection per worker, the body read and not parsed) with the
same concurrency: its time is what the stand-ins leave for any client here, and the function's
poll compares with it as well as with the bound. One untimed pass, then `BENCH_PASSES` timed
ones; prints one JSON line (the passes' wall times).
"""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor

import urllib3

from zlb_health.zenlayer import API_PATH, API_VERSION, signing
from zlb_health.zenlayer.client import CONTENT_TYPE, SERVICE


def main() -> None:
    env = os.environ
    url = env["BENCH_EMULATOR_URL"].rstrip("/") + API_PATH
    host = url.split("://", 1)[1].split("/", 1)[0]
    key_id, password = env["BENCH_ACCESS_KEY_ID"], env["BENCH_ACCESS_KEY_PASSWORD"]
    lb_ids = env["LOAD_BALANCER_IDS"].split(",")
    concurrency = int(env["BENCH_CONCURRENCY"])
    http = urllib3.PoolManager(maxsize=concurrency)

    def call(lb_id: str) -> int:
        body = json.dumps({"loadBalancerId": lb_id}).encode()
        timestamp = int(time.time())
        sig = signing.signature(
            access_key_password=password,
            timestamp=timestamp,
            content_type=CONTENT_TYPE,
            host=host,
            body=body,
        )
        headers = {
            "Content-Type": CONTENT_TYPE,
            "X-ZC-Action": "DescribeBackendHealth",
            "X-ZC-Version": API_VERSION,
            "X-ZC-Service": SERVICE,
            "X-ZC-Timestamp": str(timestamp),
            "X-ZC-Signature-Method": signing.ALGORITHM,
            "Authorization": signing.authorization_header(access_key_id=key_id, signature_hex=sig),
        }
        response = http.request("POST", url, body=body, headers=headers)
        if response.status != 200:
            raise RuntimeError(f"{lb_id}: HTTP {response.status}: {response.data[:200]!r}")
        return len(response.data)

    passes: list[float] = []
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(call, lb_ids))  # warm-up: connections opened
        for _ in range(int(env.get("BENCH_PASSES", "5"))):
            started = time.perf_counter()
            list(pool.map(call, lb_ids))
            passes.append(time.perf_counter() - started)
    print(json.dumps({"passes": passes, "calls": len(lb_ids), "concurrency": concurrency}))


if __name__ == "__main__":
    main()
