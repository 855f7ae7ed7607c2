"""The rehearsal: the stack's containers on a real Docker engine, from local stand-in images."""
