"""The one base of every error a user can cause: `tradeoff-bench` catches `UserError` and nothing else.

An error derives from `UserError` when its cause lies in the user's input, data or environment (a
name, a setting, a grid, a record or run folder, an audio file, a corpus folder, a missing program),
so the command line reports it as one `error:` line with exit status 2 and names what to do. Any
other exception is a bug and keeps its traceback. The classes keep their older builtin base beside
this one (scikit-learn's `InvalidParameterError(ValueError, TypeError)`), so `except ValueError`
and the like still catch them.

Torch-free and import-free, so that the command line can catch it without importing what raises it.
"""

from __future__ import annotations


class UserError(Exception):
    """An error caused by the user's input, data or environment; its message says what, where and
    what to do, in one line."""
