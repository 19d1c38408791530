"""What crates.io accepts as a crate name: letters, digits, _ and -, at most 64."""

import re

NAME = re.compile(r"[A-Za-z0-9_\-]{1,64}")
RULE = "letters, digits, _ and -, at most 64"
