"""Growth experiment (issue 21)."""
