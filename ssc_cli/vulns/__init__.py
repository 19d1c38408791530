"""Vulnerability sources (MongoDB in production)."""
