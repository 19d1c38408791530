"""What PyPI accepts as a project name (PEP 508, enforced by PyPI for every project)."""

import re

NAME = re.compile(r"[A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9]", re.IGNORECASE)
RULE = "letters, digits and . _ - inside (PEP 508)"
