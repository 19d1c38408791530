"""Maven Central: the Maven Indexer export for names and changes, POMs for dependencies."""
