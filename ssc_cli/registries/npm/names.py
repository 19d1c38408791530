"""What npm accepts as a package name: URL-safe characters, an optional @scope/ (legacy
names may hold capitals and ~ ' ! ( ) *, so only what no npm name can hold is refused)."""

import re

_PART = r"[A-Za-z0-9\-_.!~*'()]+"
NAME = re.compile(rf"(@{_PART}/)?{_PART}")
RULE = "URL-safe characters, optionally @scope/name, at most 214"
MAX_LENGTH = 214
