"""Experiments that answer CLIMB's questions with one command (e.g. ``compare``: multi-task vs single-task)."""
