"""The naive baseline: a sequential script on the official Zenlayer SDK.

For each load balancer, one DescribeBackendHealth (zenlayercloud's ZlbClient), then one
DynamoDB PutItem per backend. Configured by the environment the bench sets (emulator URL,
table, load balancer ids, AWS_ENDPOINT_URL). One untimed warm-up call of each kind first, then
one timed pass; prints one JSON line.
"""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime

import boto3
from zenlayercloud.common.config import Config
from zenlayercloud.common.credential import Credential
from zenlayercloud.zlb.v20250401 import models
from zenlayercloud.zlb.v20250401.zlb_client import ZlbClient


def _hwm_kb() -> int:
    """Peak RSS of this process (VmHWM). Not ru_maxrss: after the bench's vfork + exec it
    reports the bench process's own peak."""
    with open("/proc/self/status", encoding="ascii") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))


def main() -> None:
    env = os.environ
    domain = env["BENCH_EMULATOR_URL"].split("://", 1)[1]
    client = ZlbClient(
        Credential(env["BENCH_ACCESS_KEY_ID"], env["BENCH_ACCESS_KEY_PASSWORD"]),
        Config(scheme="http", domain=domain, request_timeout=10),
    )
    dynamodb = boto3.client("dynamodb")
    table = env["TABLE_NAME"]
    lb_ids = env["LOAD_BALANCER_IDS"].split(",")

    def check(lb_id: str, observed: str) -> int:
        request = models.DescribeBackendHealthRequest()
        request.loadBalancerId = lb_id
        response = client.DescribeBackendHealth(request)
        for b in response.backends:
            port = b.backendPort or b.listenerPort
            dynamodb.put_item(
                TableName=table,
                Item={
                    "PK": {"S": f"LB#{lb_id}"},
                    "SK": {"S": f"NAIVE#{observed}#{b.listenerId}#{b.privateIpAddress}:{port}"},
                    "instanceId": {"S": b.instanceId or ""},
                    "healthStatus": {"S": b.healthStatus},
                    "requestId": {"S": response.requestId},
                },
            )
        return len(response.backends)

    check(lb_ids[0], "warmup")
    observed = datetime.now(UTC).isoformat()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    puts = sum(check(lb_id, observed) for lb_id in lb_ids)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    print(
        json.dumps(
            {
                "wall": wall,
                "cpu": cpu,
                "api_calls": len(lb_ids),
                "put_items": puts,
                "maxrss_kb": _hwm_kb(),
            }
        )
    )


if __name__ == "__main__":
    main()
