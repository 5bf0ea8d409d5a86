"""Deckhand's benchmarks: `python -m bench` (or `make bench`) prints the table.

Not tests: nothing here passes or fails (pytest's testpaths is `tests/`). See
`docs/benchmarks.md` for what each figure means and the last full run.
"""
