"""What Maven accepts as a package: groupId:artifactId, each of [A-Za-z0-9_.-]."""

import re

NAME = re.compile(r"[A-Za-z0-9_.\-]+:[A-Za-z0-9_.\-]+")
RULE = "group:artifact, each of letters, digits and . _ -"
