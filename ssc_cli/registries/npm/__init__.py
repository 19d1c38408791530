"""npm: the replication feed for names and changes, packuments for packages."""
