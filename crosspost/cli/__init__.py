"""The `crosspost` command line: one Typer sub-app per noun, thin over services."""
