"""The command blocks of docs/operations.md: ```bash runbook (run) and ```bash static (checked)."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from ssc_cli.errors import SscError
from tests.conftest import REPO

OPERATIONS = REPO / "docs" / "operations.md"
_FENCE = re.compile(r"^(?P<indent>[ \t]*)```bash (?P<kind>runbook|static)[ \t]*$")


@dataclass
class Block:
    kind: str  # runbook: run by the test; static: needs root, a cluster or a daemon
    line: int  # of the opening fence
    text: str

    def commands(self) -> list[list[str]]:
        """Each command line as words (heredoc bodies and comments skipped)."""
        out: list[list[str]] = []
        heredoc: str | None = None
        for raw in self.text.splitlines():
            line = raw.strip()
            if heredoc is not None:
                heredoc = None if line == heredoc else heredoc
                continue
            if not line or line.startswith("#"):
                continue
            match = re.search(r"<<'?(\w+)'?", line)
            if match:
                heredoc = match[1]
                line = line[: match.start()]
            parts = re.split(r"\s*(?:&&|\|\|)\s*", line)
            out.extend(shlex.split(part) for part in parts if part)
        return out


def blocks() -> list[Block]:
    found: list[Block] = []
    lines = OPERATIONS.read_text().splitlines()
    index = 0
    while index < len(lines):
        match = _FENCE.match(lines[index])
        if match is None:
            index += 1
            continue
        indent, start = match["indent"], index
        body: list[str] = []
        index += 1
        while lines[index].strip() != "```":
            body.append(lines[index].removeprefix(indent))
            index += 1
        found.append(Block(match["kind"], start + 1, "\n".join(body) + "\n"))
        index += 1
    return found


def ssc_args(words: list[str]) -> list[str] | None:
    """The ssc arguments of a command (after sudo / the venv path), without --env-file."""
    while words and words[0] == "sudo":
        words = words[1:]
    if not words or not (words[0] == "ssc" or words[0].endswith("/bin/ssc")):
        return None
    args = words[1:]
    if args[:1] == ["--env-file"]:
        args = args[2:]
    return args


def exit_codes(cls: type[SscError] = SscError) -> set[int]:
    """Every exit code of the SscError tree (InternalError's 70 included); 130/143 come from
    signals, not from this tree."""
    return {cls.exit_code}.union(*(exit_codes(sub) for sub in cls.__subclasses__()))
