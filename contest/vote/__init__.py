"""The audience vote: a public prize kept apart from the official results."""
