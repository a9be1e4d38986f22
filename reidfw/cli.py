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
    """Under ``@hydra.main``: a user's mistake -> ``error: <one line>``, exit code 2.

    A user's mistake is a ReidfwError from the command, a command-line value of the wrong type
    (:func:`check_override_types`, before anything runs), or a config object that refuses its
    values when Hydra instantiates it (Lightning's ``Trainer(max_epochs=-3)``)."""

    @functools.wraps(task)
    def run(*args: Any, **kwargs: Any) -> Any:
        from hydra.errors import InstantiationException

        from reidfw.errors import ReidfwError

        try:
            if args:
                check_override_types(args[0])
            return task(*args, **kwargs)
        except (ReidfwError, InstantiationException) as e:
            message = _instantiation_message(e) if isinstance(e, InstantiationException) else str(e)
            if full_error_asked() or message is None:
                raise
            print(f"error: {one_line(message)}", file=sys.stderr)
            sys.exit(USAGE_ERROR)  # SystemExit passes through Hydra without its "Error executing job" report

    return run


def _instantiation_message(e: Exception) -> str | None:
    """``trainer: <what the class said>. Fix: ...`` for a class that refused its config values; None for a bug."""
    cause = e.__cause__
    if not (isinstance(cause, ValueError) or type(cause).__name__ == "MisconfigurationException"):
        return None  # a TypeError, an ImportError...: reidfw's bug, keep the traceback
    key = next((ln.split(":", 1)[1].strip() for ln in str(e).splitlines() if ln.startswith("full_key:")), "the config")
    return (f"{key}: {one_line(str(cause)).rstrip('.')}. Fix: change the {key}.* value(s) on the command line "
            f"(`--cfg job` shows the config)")


def check_override_types(cfg: Any) -> None:
    """A value given on the command line keeps the type of the value it replaces.

    ``margin=abc`` where the config holds a number would otherwise fail deep inside the run,
    after data loading, with a traceback. Costs nothing unless an override's value is text
    where the composed config holds text (only then is the config composed without it to
    see what it replaced)."""
    from reidfw.errors import ConfigValueError

    try:
        from hydra import compose
        from hydra.core.hydra_config import HydraConfig
        from hydra.core.override_parser.overrides_parser import OverridesParser
        from omegaconf import OmegaConf

        hc = HydraConfig.get()
        texts = list(hc.overrides.task)
        suspects = {}
        for text, o in zip(texts, OverridesParser.create().parse_overrides(texts)):
            if o.is_delete() or o.is_add() or o.is_force_add() or not isinstance(o.value(), str):
                continue
            if isinstance(OmegaConf.select(cfg, o.key_or_group, default=None), str):  # not a config group's choice
                suspects[text] = (o.key_or_group, o.value())
        if not suspects:
            return
        base = compose(config_name=hc.job.config_name, overrides=[t for t in texts if t not in suspects])
    except Exception:  # the check must never stop a valid run: without it the run fails later, as before
        return
    for key, value in suspects.values():
        default = OmegaConf.select(base, key, default=None)
        if isinstance(default, bool):
            raise ConfigValueError(f"{key}={value}", f"true or false (the default is {str(default).lower()})",
                                   f"the text {value!r}", f"{key}=true or {key}=false")
        if isinstance(default, (int, float)):
            kind = "a whole number" if isinstance(default, int) else "a number"
            raise ConfigValueError(f"{key}={value}", f"{kind} (the default is {default})", f"the text {value!r}",
                                   f"give a number, e.g. {key}={default}")


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
