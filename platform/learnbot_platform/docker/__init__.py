"""The stack on one Docker engine: each part a component of containers on one network."""
