"""Cypher of the job lease: one `SscJobLease` node per job, so pods sharing a graph exclude each other.

Times are the server's (`datetime()`), so pods whose clocks disagree still agree on expiry.
Each statement first SETs `checked_at`: that takes the node's write lock before `holder` and
`expires_at` are read, so two transactions cannot both see the lease free (the Neo4j idiom for a
read-then-write under concurrency; the counter in cypher.py does the same).
"""

from __future__ import annotations

LEASE = "SscJobLease"

CONSTRAINT = "ssc_job_lease_job"
SCHEMA = f"CREATE CONSTRAINT {CONSTRAINT} IF NOT EXISTS FOR (n:{LEASE}) REQUIRE n.job IS UNIQUE"
SCHEMA_EXISTS = "SHOW CONSTRAINTS YIELD name WHERE name = $name RETURN name"

_STATE = (
    "RETURN coalesce(l.holder = $holder, false) AS held, l.holder AS holder, "
    "toString(l.expires_at) AS expires_at, "
    "duration.inSeconds(datetime(), l.expires_at).seconds AS remaining"
)

# Taken when nobody holds it, its lease expired, or it is already ours.
ACQUIRE = (
    f"MERGE (l:{LEASE} {{job: $job}}) "
    "SET l.checked_at = datetime() "
    "WITH l, (l.holder IS NULL OR l.holder = $holder OR l.expires_at <= datetime()) AS free "
    "FOREACH (_ IN CASE WHEN free THEN [1] ELSE [] END | "
    "SET l.acquired_at = datetime(), l.holder = $holder, "
    "l.expires_at = datetime() + duration({milliseconds: $ttl_ms})) " + _STATE
)

# Extended only while still ours (even past expiry: then nobody took it meanwhile). Gone or
# another holder: the lease was lost, and `held` is false.
RENEW = (
    f"OPTIONAL MATCH (l:{LEASE} {{job: $job}}) "
    "SET l.checked_at = datetime() "
    "FOREACH (_ IN CASE WHEN l.holder = $holder THEN [1] ELSE [] END | "
    "SET l.renewed_at = datetime(), l.expires_at = datetime() + duration({milliseconds: $ttl_ms})) "
    + _STATE
)

RELEASE = (
    f"MATCH (l:{LEASE} {{job: $job}}) "
    "SET l.checked_at = datetime() "
    "WITH l WHERE l.holder = $holder DELETE l"
)
