"""The automl terminal UI's own widgets, one per module."""
