"""The organiser console."""
