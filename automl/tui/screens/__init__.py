"""The screens of the automl terminal UI, one per module."""
