"""Archives of recordings: the per-recording task, the engines that run it and the archive tables.
Will import the framework and the analysis layer, never evaluation or the CLI."""
