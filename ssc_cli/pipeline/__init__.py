"""Use cases: ingest, update, drain. No Typer, no httpx, no database driver in here."""
