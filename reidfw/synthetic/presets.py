"""Named sizes of the synthetic sets, read from ``conf/synthetic/<name>.yaml`` (the one place
they are written): ``demo`` for ``make demo`` and the CLI's defaults, ``tiny`` for tests.
Keys are the generators' keyword arguments, so train.py, evaluate.py and the CLI render the
same settings into one shared cache entry."""
from __future__ import annotations

from pathlib import Path

import yaml

PRESET_DIR = Path(__file__).resolve().parents[2] / "conf" / "synthetic"


def synthetic_preset(name: str = "demo") -> dict[str, dict]:
    """``{kind: generator settings}`` of the named preset."""
    path = PRESET_DIR / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))
        raise FileNotFoundError(
            f"{path}: no synthetic preset {name!r}; known presets: {known or 'none (is reidfw installed from its repository?)'}"
        )
    preset = yaml.safe_load(path.read_text()) or {}
    # A preset may build on others as a Hydra group config does ("defaults: [demo, _self_]"): the
    # listed presets first, then this file's keys merged over them, kind by kind.
    merged: dict[str, dict] = {}
    for base in preset.pop("defaults", []):
        layer = preset if base == "_self_" else synthetic_preset(base)
        for kind, settings in layer.items():
            merged[kind] = {**merged.get(kind, {}), **settings}
    return merged or preset
