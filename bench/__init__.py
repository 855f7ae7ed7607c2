"""Load benchmarks of the learnbot API (`make bench`); never part of `make test`."""
