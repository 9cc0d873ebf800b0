"""The HTTP front door: the REST API (with its OpenAPI document), probes and web pages."""
