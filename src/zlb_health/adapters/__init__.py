"""Adapters at the edges: DynamoDB, SNS, Secrets Manager."""
