"""ssc doctor: what can this machine reach (graph, Redis, MongoDB, each registry)?"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from ssc_cli.cli.context import command_context, errors_to_exit_codes, parse_ecosystem
from ssc_cli.errors import SscError
from ssc_cli.models import Ecosystem

# Heavy imports (httpx, the stores, pydantic) live in the command: `ssc --help` must stay fast
# (issue 8).
if TYPE_CHECKING:
    from ssc_cli.settings import Settings


def _check(name: str, target: str, probe: object) -> dict[str, object]:
    try:
        probe()  # type: ignore[operator]
    except SscError as exc:
        return {
            "check": name,
            "target": target,
            "ok": False,
            "detail": str(exc),
            "exit": exc.exit_code,
        }
    return {"check": name, "target": target, "ok": True, "detail": "reachable", "exit": 0}


async def _registries(settings: Settings, ecosystems: list[Ecosystem]) -> list[dict[str, object]]:
    from ssc_cli import registries
    from ssc_cli.http import Http, HttpConfig

    config = HttpConfig.from_settings(settings)
    config.retries, config.cache_dir = 0, None
    config.timeout = config.connect_timeout = min(settings.http_connect_timeout, 10.0)
    results = []
    async with Http(config) as http:
        for eco in ecosystems:
            for setting, url in registries.probes(eco, settings):
                check: dict[str, object] = {"check": f"registry {eco.value}", "target": url}
                try:
                    status = await http.head(url)
                except SscError as exc:
                    check |= {"ok": False, "detail": str(exc), "exit": 4}
                else:
                    ok = 200 <= status < 300
                    detail = f"HTTP {status}"
                    if status in (401, 403, 407):
                        detail += ": refused; check credentials or the proxy in front of it"
                    elif not ok:
                        detail += f": not a {eco.value} registry here? check {setting}"
                    check |= {"ok": ok, "detail": detail, "exit": 0 if ok else 4}
                results.append(check)
    return results


def _vulns_check(settings: Settings) -> dict[str, object]:
    """The vulnerability source attribution reads: records per ecosystem, newest `modified`."""
    from ssc_cli.settings import redact_url
    from ssc_cli.vulns.sources import describe, open_source

    if settings.vuln_db_uri is None and not settings.osv_path.is_file():
        # Doctor does not create the store; an empty one is not an error (nothing synced yet).
        return {
            "check": "vulnerabilities",
            "target": str(settings.osv_path),
            "ok": True,
            "detail": "osv: no store yet; run `ssc vulns sync` (or set SSC_VULN_DB_URI)",
            "exit": 0,
            "source": "osv",
            "records": {},
            "newest_modified": {},
            "newest_age_seconds": None,
        }
    target = (
        redact_url(settings.vuln_db_uri.get_secret_value())
        if settings.vuln_db_uri is not None
        else str(settings.osv_path)
    )
    try:
        source = open_source(settings)
        try:
            report = describe(source.info())
        finally:
            source.close()
    except SscError as exc:
        return {
            "check": "vulnerabilities",
            "target": target,
            "ok": False,
            "detail": str(exc),
            "exit": exc.exit_code,
        }
    return {"check": "vulnerabilities", "target": target, "ok": True, "exit": 0, **report}


def doctor_command(
    typer_ctx: typer.Context,
    ecosystem: Annotated[
        list[str] | None,
        typer.Option("--ecosystem", help="Check only these registries (repeatable)."),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the checks as JSON.")] = False,
) -> None:
    """Check the graph, the queue, the vulnerability database and every registry."""
    import asyncio

    from ssc_cli.graph import open_store
    from ssc_cli.settings import redact_url

    ctx = command_context(typer_ctx, json_output)
    with errors_to_exit_codes(ctx):
        settings = ctx.settings
        ecosystems = (
            [parse_ecosystem(e, implemented=False) for e in ecosystem]
            if ecosystem
            else list(Ecosystem)
        )

        def graph() -> None:
            store = open_store(settings)
            try:
                store.migrate()
                store.ping()
            finally:
                store.close()

        checks = [_check("graph", redact_url(settings.graph_target), graph)]
        from ssc_cli.queue.connection import connect, redis_url

        url = redis_url(settings)
        if url is not None:
            checks.append(_check("redis", redact_url(url), lambda: connect(settings).close()))
        if settings.vuln_db_uri is not None:
            from ssc_cli.vulns.mongo import ping

            uri = settings.vuln_db_uri.get_secret_value()
            checks.append(_check("mongodb", redact_url(uri), lambda: ping(uri)))
        checks.append(_vulns_check(settings))
        checks.extend(asyncio.run(_registries(settings, ecosystems)))
    if ctx.json_output:
        typer.echo(json.dumps(checks, indent=2))
    else:
        for check in checks:
            mark = "ok  " if check["ok"] else "FAIL"
            typer.echo(f"{mark} {check['check']:<18} {check['target']}  {check['detail']}")
    codes = [int(c["exit"]) for c in checks if not c["ok"]]  # type: ignore[call-overload]
    raise typer.Exit(5 if 5 in codes else (4 if codes else 0))
