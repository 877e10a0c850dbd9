"""The algorithms and metrics automl ships, registered through the public hooks."""
