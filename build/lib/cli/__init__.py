"""`dsr`: the operator command line of the privacy engine (Typer + Rich), thin over functions.privacy."""
