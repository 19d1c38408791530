"""python -m ssc_cli."""

from ssc_cli.cli.app import main

main()
