"""Cold-start baseline: a bare process that imports boto3 and creates the three clients the
function needs (DynamoDB, SNS, Secrets Manager), then says so. No network calls."""

from __future__ import annotations

import json
import os

import boto3


def main() -> None:
    clients = [boto3.client(name) for name in ("dynamodb", "sns", "secretsmanager")]
    os.write(1, (json.dumps({"clients": len(clients)}) + "\n").encode())


if __name__ == "__main__":
    main()
