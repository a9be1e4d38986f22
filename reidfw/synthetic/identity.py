"""What a synthetic person looks like: body measurements, skin, hair, clothes, accessories.

Identities are drawn from a numpy Generator, so one seed gives one person. Clothing
colours come from a smallish palette of common garment colours plus a little jitter:
hundreds of identities stay distinct through the *combination* of attributes, while
many pairs share a top or trouser colour — the hard negatives a Re-ID model must learn
to separate.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from reidfw.synthetic.seeds import item_rng

RGB = tuple[int, int, int]

# Common garment colours (sRGB). Several are close on purpose (navy/blue/black, beige/white).
GARMENT_PALETTE: dict[str, RGB] = {
    "white": (232, 232, 228), "black": (28, 28, 30), "gray": (128, 128, 130), "charcoal": (62, 64, 68),
    "navy": (30, 40, 78), "blue": (45, 85, 160), "light_blue": (140, 175, 215), "red": (175, 35, 40),
    "maroon": (100, 30, 40), "green": (40, 110, 60), "olive": (100, 105, 55), "yellow": (225, 195, 55),
    "beige": (200, 180, 145), "pink": (225, 145, 170), "orange": (220, 115, 40), "purple": (100, 60, 130),
    "brown": (105, 70, 45), "teal": (30, 120, 125),
}
BOTTOM_PALETTE: dict[str, RGB] = {
    "denim": (55, 75, 115), "light_denim": (105, 130, 165), "black": (30, 30, 32), "gray": (110, 110, 112),
    "khaki": (175, 155, 115), "navy": (35, 40, 70), "brown": (95, 70, 50), "olive": (85, 90, 55), "white": (220, 220, 214),
}
SKIN_TONES: list[RGB] = [(250, 220, 195), (238, 196, 164), (222, 172, 130), (196, 140, 98), (150, 100, 68), (98, 66, 46)]
HAIR_COLORS: list[RGB] = [(20, 16, 14), (45, 32, 24), (80, 55, 35), (150, 115, 70), (200, 170, 110), (140, 140, 140), (110, 45, 25)]
SHOE_COLORS: list[RGB] = [(25, 25, 25), (235, 235, 235), (90, 60, 40), (120, 120, 125), (160, 40, 40), (40, 60, 120)]
HEADWEAR_COLORS: list[RGB] = [(240, 240, 236), (230, 200, 40), (30, 30, 30), (40, 70, 150), (170, 40, 40), (230, 120, 30)]
BAG_COLORS: list[RGB] = [(25, 25, 28), (50, 55, 65), (40, 60, 110), (110, 40, 40), (95, 75, 50), (70, 90, 60), (150, 150, 150)]


# The clothing a set's people draw from (the generators' ``palette=``). "full": every colour above,
# the demo's sets. "neutral": the dark neutrals and denim most commuters wear -- clothing colour then
# tells people apart far less (the colour histogram's mAP on the demo's retrieval set falls from
# 0.453 to 0.308, a model trained on the tracks' labels only from 0.345 to 0.312), and pattern,
# hair, build and accessories must do more of it.
PALETTES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "full": (tuple(GARMENT_PALETTE), tuple(BOTTOM_PALETTE)),
    "neutral": (("black", "charcoal", "gray", "navy", "white"), ("denim", "black", "gray", "navy")),
}


def palette_names(palette: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(top colour names, bottom colour names) of a palette; an unknown name is the user's mistake."""
    if palette not in PALETTES:
        from reidfw.errors import ConfigValueError

        raise ConfigValueError(f"palette={palette}", f"one of {', '.join(PALETTES)}", repr(palette),
                               "palette=full (every colour; the demo's) or palette=neutral (dark neutrals and denim)")
    return PALETTES[palette]


@dataclass(frozen=True)
class Identity:
    identity_id: str
    height: float                      # metres
    build: float                       # width multiplier (1 = average)
    skin: RGB
    hair_color: RGB
    hair_style: str                    # "short" | "long" | "bald"
    top_color: RGB
    top_accent: RGB                    # stripe / print / colour-block / inner-shirt colour
    top_motif: RGB                     # colour of the motif inside a print
    top_pattern: str                   # "plain" | "stripes" | "print" | "block" | "jacket"
    print_side: str                    # "front" | "back" (where a print sits)
    stripe_period: float               # metres
    sleeve: str                        # "long" | "short" | "none"
    top_looseness: float               # torso width multiplier from the garment
    bottom_color: RGB
    bottom_style: str                  # "trousers" | "shorts" | "capri"
    shoe_color: RGB
    sole_color: RGB
    headwear: str                      # "none" | "cap" | "helmet"
    headwear_color: RGB
    backpack: bool
    backpack_color: RGB
    shoulder_bag: str                  # "none" | "left" | "right" (side of the body the bag hangs on)
    bag_color: RGB

    def replace(self, **changes) -> "Identity":
        return dataclasses.replace(self, **changes)

    def to_meta(self) -> dict:
        """JSON-able description (tuples become lists)."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(self).items()}


def _jitter(rng: np.random.Generator, rgb: RGB, amount: float = 0.08) -> RGB:
    """Same named colour, slightly different dye / fading: brightness and per-channel jitter."""
    c = np.asarray(rgb, dtype=float) * rng.uniform(1 - amount, 1 + amount)
    c = c + rng.normal(0.0, 6.0, size=3)
    return tuple(int(v) for v in np.clip(np.round(c), 0, 255))


def _pick(rng: np.random.Generator, options, probs=None):
    return options[int(rng.choice(len(options), p=probs))]


def sample_identity(rng: np.random.Generator, identity_id: str, palette: str = "full") -> Identity:
    """Draw one person, dressed from ``palette``. All randomness comes from ``rng`` (never the global
    state), and every palette draws the same number of values: the rest of the person does not
    depend on the palette."""
    tops, bottoms = palette_names(palette)
    garment_names = list(tops)
    top_name = _pick(rng, garment_names)
    accent_name = _pick(rng, [n for n in garment_names if n != top_name])
    motif_name = _pick(rng, [n for n in garment_names if n not in (top_name, accent_name)])
    pattern = _pick(rng, ["plain", "stripes", "print", "block", "jacket"], [0.45, 0.14, 0.17, 0.1, 0.14])
    hair_style = _pick(rng, ["short", "long", "bald"], [0.62, 0.32, 0.06])
    headwear = _pick(rng, ["none", "cap", "helmet"], [0.72, 0.16, 0.12])
    bottom_style = _pick(rng, ["trousers", "shorts", "capri"], [0.74, 0.18, 0.08])
    bottom_name = _pick(rng, list(bottoms))
    return Identity(
        identity_id=identity_id,
        height=float(np.clip(rng.normal(1.70, 0.08), 1.50, 1.95)),
        build=float(rng.uniform(0.85, 1.2)),
        skin=_jitter(rng, _pick(rng, SKIN_TONES), 0.05),
        hair_color=_jitter(rng, _pick(rng, HAIR_COLORS), 0.05),
        hair_style=hair_style,
        top_color=_jitter(rng, GARMENT_PALETTE[top_name]),
        top_accent=_jitter(rng, GARMENT_PALETTE[accent_name]),
        top_motif=_jitter(rng, GARMENT_PALETTE[motif_name]),
        top_pattern=pattern,
        print_side="front" if rng.random() < 0.8 else "back",
        stripe_period=float(rng.uniform(0.03, 0.07)),
        sleeve=_pick(rng, ["long", "short", "none"], [0.5, 0.42, 0.08]),
        top_looseness=float(rng.uniform(1.0, 1.12)),
        bottom_color=_jitter(rng, BOTTOM_PALETTE[bottom_name]),
        bottom_style=bottom_style,
        shoe_color=_jitter(rng, _pick(rng, SHOE_COLORS), 0.05),
        sole_color=(235, 235, 230) if rng.random() < 0.6 else (40, 40, 40),
        headwear=headwear,
        headwear_color=_jitter(rng, _pick(rng, HEADWEAR_COLORS), 0.04),
        backpack=bool(rng.random() < 0.25),
        backpack_color=_jitter(rng, _pick(rng, BAG_COLORS), 0.05),
        shoulder_bag=_pick(rng, ["none", "left", "right"], [0.8, 0.1, 0.1]),
        bag_color=_jitter(rng, _pick(rng, BAG_COLORS), 0.05),
    )


def identity_rng(seed: int, space: str, index: int) -> np.random.Generator:
    """The Generator for identity ``index`` of an identity space (e.g. "tracks", "market").

    Different spaces use different seed sequences, so the people of the market set are
    never the people of the tracks set even with the same ``seed``.
    """
    return item_rng(seed, "identity", space, index)
