"""What NuGet accepts as a package id: letters, digits and . _ -, at most 100."""

import re

NAME = re.compile(r"[A-Za-z0-9_.\-]{1,100}")
RULE = "letters, digits and . _ -, at most 100"
