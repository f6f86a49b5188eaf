"""The prompt's subjects: which things it names, in which colour, doing what.

A small vocabulary maps common nouns (animals, people, vehicles, buildings, plants, objects) to
a *kind* of figure (:mod:`.figures` draws one per kind) with proportions and a usual colour.
The colour word just before the noun ("a red fox") or anywhere before it paints it; the verb
(``running``, ``flying``...) picks the gait and the direction of travel. A prompt naming none of
the nouns gets an abstract figure, a prompt naming two gets both; ``negative_prompt`` naming the
noun (or ``people``, ``animals``, ``subject``...) removes it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kirin_api.engines.preview.theme import COLOUR_WORDS, Rgb

# noun -> (kind, usual colour, size: the figure's height as a fraction of the frame's height)
_Entry = tuple[str, Rgb, float]
_BROWN, _GREY, _WHITE, _BLACK = (0.5, 0.33, 0.2), (0.55, 0.55, 0.58), (0.92, 0.92, 0.9), (0.12,) * 3
VOCABULARY: dict[str, _Entry] = {
    # four-legged animals
    "fox": ("fox", (0.85, 0.42, 0.12), 0.3),
    "dog": ("dog", (0.6, 0.42, 0.25), 0.3),
    "puppy": ("dog", (0.75, 0.6, 0.4), 0.24),
    "cat": ("cat", (0.45, 0.45, 0.45), 0.24),
    "kitten": ("cat", (0.8, 0.6, 0.4), 0.2),
    "wolf": ("wolf", _GREY, 0.32),
    "horse": ("horse", (0.45, 0.28, 0.15), 0.45),
    "pony": ("horse", (0.7, 0.55, 0.4), 0.36),
    "deer": ("deer", (0.6, 0.4, 0.22), 0.42),
    "cow": ("cow", _WHITE, 0.4),
    "sheep": ("sheep", _WHITE, 0.3),
    "goat": ("goat", (0.75, 0.7, 0.62), 0.32),
    "pig": ("pig", (0.95, 0.65, 0.65), 0.28),
    "lion": ("lion", (0.8, 0.6, 0.3), 0.38),
    "tiger": ("tiger", (0.9, 0.5, 0.12), 0.36),
    "leopard": ("tiger", (0.85, 0.68, 0.35), 0.34),
    "cheetah": ("tiger", (0.88, 0.72, 0.4), 0.34),
    "bear": ("bear", (0.35, 0.22, 0.12), 0.42),
    "elephant": ("elephant", _GREY, 0.55),
    "rabbit": ("rabbit", (0.7, 0.65, 0.6), 0.22),
    "bunny": ("rabbit", _WHITE, 0.2),
    "giraffe": ("giraffe", (0.9, 0.7, 0.35), 0.6),
    "zebra": ("horse", _WHITE, 0.42),
    "camel": ("camel", (0.8, 0.65, 0.42), 0.5),
    "squirrel": ("rabbit", (0.6, 0.35, 0.18), 0.2),
    "panda": ("bear", _WHITE, 0.38),
    "dinosaur": ("dinosaur", (0.35, 0.55, 0.3), 0.6),
    "dragon": ("dinosaur", (0.7, 0.15, 0.12), 0.6),
    "unicorn": ("horse", _WHITE, 0.45),
    # birds and swimmers
    "bird": ("bird", (0.3, 0.35, 0.5), 0.22),
    "eagle": ("bird", (0.4, 0.28, 0.18), 0.28),
    "hawk": ("bird", (0.5, 0.38, 0.25), 0.26),
    "owl": ("owl", (0.55, 0.42, 0.3), 0.28),
    "parrot": ("bird", (0.15, 0.7, 0.25), 0.24),
    "crow": ("bird", _BLACK, 0.22),
    "dove": ("bird", _WHITE, 0.22),
    "seagull": ("bird", _WHITE, 0.24),
    "swan": ("swan", _WHITE, 0.3),
    "duck": ("swan", (0.55, 0.45, 0.3), 0.22),
    "butterfly": ("butterfly", (0.95, 0.6, 0.15), 0.22),
    "fish": ("fish", (0.95, 0.55, 0.15), 0.2),
    "whale": ("fish", (0.3, 0.38, 0.5), 0.4),
    "dolphin": ("fish", _GREY, 0.3),
    "shark": ("fish", (0.45, 0.5, 0.55), 0.32),
    "turtle": ("turtle", (0.3, 0.5, 0.3), 0.24),
    # people
    "person": ("person", (0.3, 0.4, 0.6), 0.5),
    "man": ("person", (0.25, 0.35, 0.55), 0.52),
    "woman": ("woman", (0.7, 0.25, 0.35), 0.5),
    "girl": ("woman", (0.85, 0.45, 0.55), 0.4),
    "boy": ("person", (0.3, 0.5, 0.7), 0.4),
    "child": ("person", (0.9, 0.6, 0.2), 0.38),
    "kid": ("person", (0.9, 0.6, 0.2), 0.38),
    "dancer": ("woman", (0.8, 0.2, 0.4), 0.5),
    "runner": ("person", (0.2, 0.5, 0.8), 0.5),
    "astronaut": ("person", _WHITE, 0.5),
    "knight": ("person", (0.7, 0.72, 0.75), 0.52),
    "robot": ("robot", (0.7, 0.72, 0.75), 0.5),
    # vehicles
    "car": ("car", (0.8, 0.1, 0.1), 0.24),
    "taxi": ("car", (0.95, 0.8, 0.15), 0.24),
    "truck": ("truck", (0.3, 0.45, 0.7), 0.3),
    "bus": ("truck", (0.95, 0.7, 0.1), 0.32),
    "van": ("truck", _WHITE, 0.28),
    "jeep": ("car", (0.35, 0.45, 0.25), 0.26),
    "train": ("truck", (0.6, 0.15, 0.12), 0.3),
    "tractor": ("truck", (0.2, 0.6, 0.2), 0.28),
    "bicycle": ("bicycle", (0.2, 0.4, 0.8), 0.26),
    "bike": ("bicycle", (0.2, 0.4, 0.8), 0.26),
    "motorcycle": ("bicycle", _BLACK, 0.28),
    "boat": ("boat", (0.85, 0.2, 0.15), 0.3),
    "ship": ("boat", (0.4, 0.4, 0.45), 0.4),
    "sailboat": ("boat", _WHITE, 0.34),
    "yacht": ("boat", _WHITE, 0.34),
    "airplane": ("plane", _WHITE, 0.24),
    "plane": ("plane", _WHITE, 0.24),
    "jet": ("plane", _GREY, 0.22),
    "helicopter": ("helicopter", (0.2, 0.35, 0.2), 0.26),
    "rocket": ("rocket", _WHITE, 0.5),
    # buildings
    "house": ("house", (0.8, 0.6, 0.4), 0.45),
    "cabin": ("house", (0.5, 0.32, 0.18), 0.4),
    "cottage": ("house", (0.9, 0.85, 0.7), 0.4),
    "barn": ("house", (0.7, 0.15, 0.12), 0.45),
    "castle": ("castle", (0.65, 0.62, 0.58), 0.55),
    "tower": ("tower", (0.6, 0.58, 0.55), 0.65),
    "lighthouse": ("tower", _WHITE, 0.65),
    "church": ("castle", _WHITE, 0.55),
    "temple": ("castle", (0.85, 0.7, 0.4), 0.5),
    "skyscraper": ("tower", (0.5, 0.6, 0.7), 0.7),
    "windmill": ("windmill", _WHITE, 0.6),
    # plants
    "tree": ("tree", (0.2, 0.5, 0.2), 0.6),
    "oak": ("tree", (0.25, 0.45, 0.18), 0.6),
    "palm": ("palm", (0.25, 0.6, 0.25), 0.6),
    "cactus": ("cactus", (0.3, 0.6, 0.3), 0.45),
    "flower": ("flower", (0.95, 0.3, 0.45), 0.3),
    "sunflower": ("flower", (0.95, 0.8, 0.15), 0.4),
    "rose": ("flower", (0.85, 0.1, 0.15), 0.3),
    "mushroom": ("mushroom", (0.85, 0.15, 0.1), 0.26),
    # objects
    "ball": ("ball", (0.9, 0.4, 0.15), 0.16),
    "balloon": ("balloon", (0.9, 0.15, 0.2), 0.3),
    "umbrella": ("umbrella", (0.2, 0.3, 0.8), 0.36),
    "lamp": ("lamp", (0.25, 0.25, 0.28), 0.5),
    "chair": ("chair", (0.55, 0.35, 0.2), 0.3),
    "guitar": ("guitar", (0.7, 0.4, 0.15), 0.36),
}
PLURALS = {"people": "person", "men": "man", "women": "woman", "children": "child"}
# negative_prompt words that remove a whole family of subjects
_FAMILIES = {
    "people": {"person", "woman", "robot"},
    "person": {"person", "woman"},
    "humans": {"person", "woman"},
    "animals": {"fox", "dog", "cat", "wolf", "horse", "deer", "cow", "sheep", "goat", "pig"}
    | {"lion", "tiger", "bear", "elephant", "rabbit", "giraffe", "camel", "dinosaur", "bird"}
    | {"owl", "swan", "butterfly", "fish", "turtle"},
    "vehicles": {"car", "truck", "bicycle", "boat", "plane", "helicopter", "rocket"},
    "buildings": {"house", "castle", "tower", "windmill"},
}
# Words of a pure landscape prompt: when a prompt has only these (and colours, verbs), it
# asks for no subject at all, and gets none rather than the abstract figure.
_LANDSCAPE_TEXT = (
    "sky hills hill mountains mountain forest forests jungle trees woods ocean sea beach waves "
    "desert sand dunes snow winter city street streets night sunset dawn sunrise dusk evening "
    "field fields meadow meadows valley river lake clouds cloud landscape scene view sun moon "
    "stars rolling quiet noon morning day daylight afternoon fog mist misty foggy calm "
    "beautiful peaceful distant snowy sunny cloudy dark bright golden hour light under over "
    "through across in on at of with and the a an by near far above below shot camera pan left "
    "right zoom out tracking aerial static drone tilt up down dolly push pull back slow fast "
    "cinematic wide still locked off crane truck "
)
LANDSCAPE = frozenset(_LANDSCAPE_TEXT.split())
# verb -> gait; the gait fixes pace and direction (GAIT_SPEED; cast.make_figures)
VERBS: dict[str, str] = {}
for _gait, _words in {
    "run": ("running", "runs", "run", "racing", "galloping", "chasing", "sprinting", "fleeing"),
    "walk": ("walking", "walks", "walk", "strolling", "wandering", "trotting", "marching"),
    "fly": ("flying", "flies", "fly", "soaring", "gliding", "hovering", "launching"),
    "swim": ("swimming", "swims", "swim", "diving", "floating", "sailing", "surfing"),
    "dance": ("dancing", "dances", "dance", "spinning", "twirling", "jumping", "playing"),
    "drive": ("driving", "drives", "drive", "riding", "speeding", "cruising"),
    "stand": ("standing", "stands", "sitting", "sits", "resting", "sleeping", "waiting"),
}.items():
    for _word in _words:
        VERBS[_word] = _gait
# the gait a kind has when the prompt names no verb
_DEFAULT_GAIT = {
    "bird": "fly",
    "owl": "fly",
    "butterfly": "fly",
    "plane": "fly",
    "helicopter": "fly",
    "rocket": "fly",
    "balloon": "fly",
    "fish": "swim",
    "swan": "swim",
    "boat": "swim",
    "car": "drive",
    "truck": "drive",
    "bicycle": "drive",
}
STILL_KINDS = frozenset(
    {"house", "castle", "tower", "windmill", "tree", "palm", "cactus", "flower", "mushroom"}
    | {"lamp", "chair", "umbrella"}
)
# normalised units per second along x (sign from Subject.heading) and up, per gait
GAIT_SPEED: dict[str, tuple[float, float]] = {
    "run": (0.075, 0.0),
    "walk": (0.03, 0.0),
    "fly": (0.05, 0.02),
    "swim": (0.04, 0.0),
    "dance": (0.0, 0.0),
    "drive": (0.07, 0.0),
    "stand": (0.0, 0.0),
}


@dataclass(frozen=True)
class Subject:
    """One figure the prompt asks for."""

    noun: str  # as found in the prompt ("abstract" when none was)
    kind: str  # which drawing (see figures.KINDS)
    colour: Rgb
    colour_word: str | None  # the prompt's colour word for it, if any
    size: float  # figure height, fraction of the frame height
    gait: str  # one of GAIT_SPEED
    heading: int  # +1 travels right, -1 left


def _colour_before(words: list[str], index: int) -> str | None:
    """The nearest colour word before ``words[index]``, not past another noun or "and"/"with"."""
    for j in range(index - 1, max(-1, index - 4), -1):
        word = words[j]
        if word in COLOUR_WORDS:
            return word
        if word in VOCABULARY or word in ("and", "with", "of", "in", "on"):
            return None
    return None


def find_subjects(prompt: str, negative_prompt: str | None, key: int) -> list[Subject]:
    """Up to two subjects, in the prompt's order; ``key`` (the prompt's hash) breaks ties."""
    words = re.findall(r"[a-z]+", prompt.lower())
    banned = set(re.findall(r"[a-z]+", (negative_prompt or "").lower()))
    banned_nouns = {
        PLURALS.get(w, w.rstrip("s") if w.rstrip("s") in VOCABULARY else w) for w in banned
    }
    banned_kinds: set[str] = set()
    for family, kinds in _FAMILIES.items():
        if family in banned:
            banned_kinds |= kinds
    if banned & {"subject", "subjects", "figure", "figures", "characters"}:
        return []
    gait = next((VERBS[w] for w in words if w in VERBS), None)
    found: list[Subject] = []
    seen: set[str] = set()
    for i, raw in enumerate(words):
        noun = PLURALS.get(raw, raw)
        if noun not in VOCABULARY and noun.endswith("s") and noun[:-1] in VOCABULARY:
            noun = noun[:-1]
        if noun not in VOCABULARY or noun in seen:
            continue
        seen.add(noun)
        kind, usual, size = VOCABULARY[noun]
        if noun in banned_nouns or kind in banned_kinds:
            continue
        colour_word = _colour_before(words, i)
        colour = COLOUR_WORDS[colour_word] if colour_word else usual
        own_gait = "stand" if kind in STILL_KINDS else gait or _DEFAULT_GAIT.get(kind, "walk")
        heading = 1 if ((key >> (7 + len(found))) & 1) else -1
        found.append(Subject(noun, kind, colour, colour_word, size, own_gait, heading))
        if len(found) == 2:
            break
    known = LANDSCAPE | COLOUR_WORDS.keys() | VERBS.keys()
    landscape = all(w in known for w in words)
    if not seen and not landscape and not banned & {"abstract", "shapes"}:
        colour_word = next((w for w in words if w in COLOUR_WORDS), None)
        colour = COLOUR_WORDS[colour_word] if colour_word else (0.85, 0.55, 0.25)
        heading = 1 if (key >> 7) & 1 else -1
        found.append(
            Subject("abstract", "abstract", colour, colour_word, 0.34, gait or "dance", heading)
        )
    return found
