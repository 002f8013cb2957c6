"""`python -m guidewatch.config [--readme README.md]`: print (or rewrite) the README's table."""

import sys

from guidewatch.config.docs import main

raise SystemExit(main(sys.argv[1:]))
