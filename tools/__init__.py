"""Development tools run from the checkout (not installed): generators of
checked-in files that read more than one process's code."""
