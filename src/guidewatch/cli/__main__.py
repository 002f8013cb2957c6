"""`python -m guidewatch.cli`: the same as the `guidewatch` command."""

from guidewatch.cli import main

main(prog_name="guidewatch")
