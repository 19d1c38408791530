"""Tables of the SQLite graph: the graph contract plus cursors, runs, failures and parent links."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS packages (
    purl TEXT PRIMARY KEY,
    ecosystem TEXT NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    vendor TEXT NOT NULL DEFAULT 'n/a',
    repository_url TEXT NOT NULL DEFAULT 'n/a',
    import_names TEXT NOT NULL DEFAULT '[]',
    moment TEXT,
    token TEXT,
    group_id TEXT,
    artifact_id TEXT,
    licenses TEXT,
    extra TEXT,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS packages_name ON packages (ecosystem, name);
CREATE INDEX IF NOT EXISTS packages_status ON packages (ecosystem, status);
CREATE TABLE IF NOT EXISTS versions (
    id INTEGER PRIMARY KEY,
    purl TEXT NOT NULL UNIQUE,
    package_purl TEXT NOT NULL,
    name TEXT NOT NULL,
    serial_number INTEGER NOT NULL DEFAULT -1,
    release_date TEXT,
    yanked INTEGER NOT NULL DEFAULT 0,
    deprecated TEXT,
    vulnerabilities TEXT NOT NULL DEFAULT '[]',
    mean REAL NOT NULL DEFAULT 0.0,
    weighted_mean REAL NOT NULL DEFAULT 0.0,
    licenses TEXT,
    extra TEXT
);
CREATE INDEX IF NOT EXISTS versions_package ON versions (package_purl);
CREATE INDEX IF NOT EXISTS versions_name ON versions (name);
CREATE TABLE IF NOT EXISTS requires (
    from_purl TEXT NOT NULL,
    to_purl TEXT NOT NULL,
    key TEXT NOT NULL,
    constraints TEXT NOT NULL,
    raw_constraints TEXT,
    marker TEXT,
    parent_version_name TEXT,
    kind TEXT NOT NULL DEFAULT 'runtime',
    optional INTEGER NOT NULL DEFAULT 0,
    target TEXT,
    extra TEXT,
    PRIMARY KEY (from_purl, to_purl, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS requires_to ON requires (to_purl);
CREATE TABLE IF NOT EXISTS cursors (
    ecosystem TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (ecosystem, key)
);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    job TEXT NOT NULL,
    ecosystem TEXT,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    status TEXT NOT NULL DEFAULT 'running',
    summary TEXT
);
CREATE TABLE IF NOT EXISTS failures (
    run_id INTEGER NOT NULL,
    ecosystem TEXT NOT NULL,
    name TEXT NOT NULL,
    reason TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS failures_run ON failures (run_id);
CREATE TABLE IF NOT EXISTS requirement_files (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    manager TEXT,
    moment TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS requirement_file_requires (
    requirement_file_id INTEGER NOT NULL,
    to_purl TEXT NOT NULL,
    constraints TEXT NOT NULL,
    PRIMARY KEY (requirement_file_id, to_purl)
) WITHOUT ROWID;
"""
