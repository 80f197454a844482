"""tradeoff-bench: the grid that composes tasks and methods, measures candidates and reports."""

__version__ = "0.1.0"
