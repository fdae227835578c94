"""`python -m app.cli ...`: the same as the `esper` console script."""

from app.cli.main import main

main()
