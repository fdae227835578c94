"""The `esper` command line: the all-in-one local stack and small admin commands.

It starts the gateway and workers as subprocesses and never imports `workers`.
"""
