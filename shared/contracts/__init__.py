"""Contracts between processes: HTTP/RPC request schemas and event schemas (marshmallow)."""
