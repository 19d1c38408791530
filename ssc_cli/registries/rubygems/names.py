"""What RubyGems accepts as a gem name: letters, digits and . _ -."""

import re

NAME = re.compile(r"[A-Za-z0-9_.\-]+")
RULE = "letters, digits and . _ -"
