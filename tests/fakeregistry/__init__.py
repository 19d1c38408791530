"""A fake package registry over real HTTP on 127.0.0.1 (see server.py)."""

from tests.fakeregistry.server import FakeRegistry, Faults, Request, Response, json_response

__all__ = ["FakeRegistry", "Faults", "Request", "Response", "json_response"]
