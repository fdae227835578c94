"""The worker's side of the artifact store: the store (store.py), one run's
background uploader (uploader.py), checkpoint retention (retention.py), and
finding and fetching a run's checkpoints (checkpoints.py)."""
