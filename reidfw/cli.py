"""How train.py / evaluate.py end: a user's mistake in one line, a bug with its traceback.

Hydra prints a traceback (or a several-line report) for every exception. Here a
:class:`~reidfw.errors.ReidfwError` raised by the command (:func:`one_line_errors`, under
``@hydra.main``) and a command line Hydra cannot compose (an unknown key, an unknown group
option; :func:`run_main`) end in one line on stderr, ``error: ...``, and exit code 2. Anything
else is a bug and keeps its traceback. ``HYDRA_FULL_ERROR=1`` shows the traceback of everything.
"""
from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Any

USAGE_ERROR = 2
# Set while Hydra re-raises composition errors for run_main, so that the command (and a child
# process: DDP, a sweep launcher) can tell it apart from a user who asked for the full report.
_OURS = "REIDFW_HYDRA_FULL_ERROR_SET"


def full_error_asked() -> bool:
    return os.environ.get("HYDRA_FULL_ERROR") == "1" and os.environ.get(_OURS) != "1"


def one_line(message: str) -> str:
    """A message as one line; of an error re-raised from a DataLoader worker, the original's line."""
    lines = [ln.strip() for ln in str(message).splitlines() if ln.strip()]
    if any(ln.startswith("Original Traceback") for ln in lines):
        last = lines[-1]  # "<module>.<Class>: <the original message>"
        lines = [last.split(": ", 1)[1] if ": " in last else last]
    return " ".join(lines)


def one_line_errors(task: Callable[..., Any]) -> Callable[..., Any]:
    """Under ``@hydra.main``: a ReidfwError from the command -> ``error: <its message>``, exit code 2."""

    @functools.wraps(task)
    def run(*args: Any, **kwargs: Any) -> Any:
        from reidfw.errors import ReidfwError

        try:
            return task(*args, **kwargs)
        except ReidfwError as e:
            if full_error_asked():
                raise
            print(f"error: {one_line(str(e))}", file=sys.stderr)
            sys.exit(USAGE_ERROR)  # SystemExit passes through Hydra without its "Error executing job" report

    return run


def _composition_message(ex: Exception, script: str) -> str:
    from omegaconf.errors import ConfigAttributeError, ConfigKeyError

    cause = ex.__cause__
    if isinstance(cause, (ConfigKeyError, ConfigAttributeError)) and getattr(cause, "full_key", None):
        return (f"{cause.full_key}: no such key in the {script} config ({one_line(str(ex).splitlines()[0])} "
                f"{str(cause).splitlines()[0]}). Fix: check the spelling; `python {script} --cfg job` lists every key")
    text = str(ex).split("Config search path")[0]  # where Hydra looked: noise to a user
    return f"{one_line(text).rstrip('.')}. Fix: `python {script} --cfg job` shows the config, `python {script} --help` the groups"


def run_main(main: Callable[[], object], script: str) -> None:
    """Call a ``@hydra.main`` function; a command line Hydra cannot compose -> one line, exit code 2."""
    if full_error_asked():
        main()
        return
    from hydra.errors import ConfigCompositionException, OverrideParseException

    os.environ["HYDRA_FULL_ERROR"] = "1"  # Hydra re-raises instead of printing its several-line report
    os.environ[_OURS] = "1"
    try:
        main()
    except (ConfigCompositionException, OverrideParseException) as e:
        print(f"error: {_composition_message(e, script)}", file=sys.stderr)
        sys.exit(USAGE_ERROR)
