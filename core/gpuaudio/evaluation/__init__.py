"""Evaluation tooling: synthetic and known-F0 speech sets, accuracy metrics and the bench.
Imports the framework and the analysis layer, never the CLI."""
