"""The gateway's side of the artifact store: reading a run's artifacts
(store.py), byte ranges (ranges.py), and the artifacts routes (router.py)."""
