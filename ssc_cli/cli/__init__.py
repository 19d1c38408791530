"""The Typer command line: parse, build, call one pipeline function, map errors to exit codes."""
