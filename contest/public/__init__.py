"""Pages for everyone: the event, its contests, and later the winners' gallery."""
