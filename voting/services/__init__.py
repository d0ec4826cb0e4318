"""Domain operations: each takes a session, flushes and never commits; the request or
the CLI command commits once."""
