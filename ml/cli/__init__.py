"""Command-line entry points (python -m ml.cli.<name>): argument parsing, orchestration and report writing only."""
