"""Archives of recordings (reserved): the per-recording task, engines and archive tables.
Will import the framework and the analysis layer, never evaluation or the CLI."""
