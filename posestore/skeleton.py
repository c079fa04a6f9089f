"""The skeleton registry: what each joint of a known skeleton means, read from data.

The registry is the JSON shipped in ``posestore/skeletons/``: one file per skeleton (its joints in
order with their canonical name, body part, mirror joint, OKS sigma and the source of every value)
and ``_vocabulary.json`` (the canonical joint names and the spelling rules that map how real files
name joints onto them). This module reads that data and answers three questions:

- what a joint name means: :func:`normalise_joint_name` (``"Left Wrist"``, ``"wrist_left"``,
  ``"Rsho"`` → ``left_wrist`` / ``right_shoulder``);
- which registry skeleton a category is: :func:`match_category`, by its joint names or, where it
  names none, by its joint count and format;
- how to move poses from one skeleton to another: :func:`projection` and :func:`project`, over whole
  NumPy blocks at once.

>>> from posestore.skeleton import match_category, project, projection
>>> match_category([], 136, "coco").skeleton
'halpe136'
>>> found = match_category(["Rsho", "Lsho", "neck"], 3, "coco")
>>> found.how, found.canonical, found.flip, found.nearest
('partial', ('right_shoulder', 'left_shoulder', 'neck'), (1, 0, 2), 'crowdpose14')
>>> shoulders = projection(["left_shoulder", "right_shoulder"], "openpose18")
>>> x, y, v = project([[10.0, 30.0]], [[5.0, 5.0]], [[2, 1]], shoulders)
>>> float(x[0, 1]), int(v[0, 1])  # OpenPose's neck: the shoulders' midpoint
(20.0, 1)
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Literal

import numpy as np

from posestore.errors import PoseStoreError

REGISTRY_DIR = "skeletons"
"""Folder of the registry inside the ``posestore`` package."""
VOCABULARY_FILE = "_vocabulary.json"
"""The vocabulary's file in that folder; every other ``*.json`` there is one skeleton."""

MatchHow = Literal["names", "subset", "count", "partial"]


class SkeletonError(PoseStoreError):
    """The registry is malformed, a skeleton name is unknown, or arrays do not fit a projection."""


# -- the vocabulary ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CanonicalJoint:
    """One name of the canonical vocabulary: its body part, its mirror and what it means."""

    name: str
    part: str
    mirror: str
    description: str | None = None


@dataclass(frozen=True)
class Vocabulary:
    """The canonical joint names and the spelling rules :func:`normalise_joint_name` applies."""

    joints: Mapping[str, CanonicalJoint]
    parts: tuple[str, ...]
    sides: Mapping[str, str]
    """A side token (``l``, ``left``, ``r``…) → ``left`` or ``right``."""
    abbreviations: Mapping[str, str]
    """A word token → the word it abbreviates (``sho`` → ``shoulder``)."""
    synonyms: Mapping[str, str]
    """A stem, with or without a side → the canonical stem (``bigtoe`` → ``big_toe``)."""
    midline_synonyms: Mapping[str, str]
    """A name without a side → the canonical name (``hip`` → ``pelvis``, ``head`` → ``head_top``)."""


def _mirror_by_side(name: str) -> str:
    for a, b in (("left_", "right_"), ("right_", "left_")):
        if name.startswith(a):
            return b + name[len(a) :]
    return name


def _read_json(file_name: str) -> dict:
    path = resources.files("posestore").joinpath(REGISTRY_DIR, file_name)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise SkeletonError(f"registry file {file_name}: {e}") from e


@cache
def vocabulary() -> Vocabulary:
    """The canonical vocabulary, read once from ``_vocabulary.json``."""
    data = _read_json(VOCABULARY_FILE)
    try:
        joints = {
            j["name"]: CanonicalJoint(
                j["name"],
                j["part"],
                j.get("mirror", _mirror_by_side(j["name"])),
                j.get("description"),
            )
            for j in data["joints"]
        }
        sides = {token: side for side, tokens in data["sides"].items() for token in tokens}
        return Vocabulary(
            MappingProxyType(joints),
            tuple(data["parts"]),
            MappingProxyType(sides),
            MappingProxyType(dict(data["abbreviations"])),
            MappingProxyType(dict(data["synonyms"])),
            MappingProxyType(dict(data["midline_synonyms"])),
        )
    except (KeyError, TypeError) as e:
        raise SkeletonError(f"registry file {VOCABULARY_FILE}: missing or malformed {e}") from e


_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_SEPARATORS = re.compile(r"[^a-z0-9]+")


def normalise_joint_name(raw: str) -> str:
    """A joint name as a real file spells it, in the canonical vocabulary's spelling.

    Case, camel case, spaces, hyphens and dots become ``snake_case``; a side written anywhere
    (``l_wrist``, ``wrist_left``, ``Left Wrist``, ``LShoulder``) or glued to a known joint
    (OpenPose-style ``Rsho``, ``Leye``) becomes a ``left_``/``right_`` prefix; abbreviations
    and synonyms from the vocabulary are applied (``bigtoe`` → ``big_toe``; without a side,
    ``head``/``top_head`` → ``head_top`` and ``hip`` → ``pelvis``).

    Returns the canonical name where the vocabulary knows the joint, otherwise the cleaned
    spelling (``"Rfli"`` → ``"rfli"``, ``"1"`` → ``"1"``); check membership in
    ``vocabulary().joints`` to tell the two apart. Names of different points stay apart:
    ``neck`` (the base of the neck) and ``upper_neck`` (MPII's) are both canonical.

    >>> [normalise_joint_name(n) for n in ("Left Wrist", "wrist_left", "Rsho", "Head top")]
    ['left_wrist', 'left_wrist', 'right_shoulder', 'head_top']
    """
    vocab = vocabulary()
    tokens = [t for t in _SEPARATORS.split(_CAMEL_BOUNDARY.sub("_", raw.strip()).lower()) if t]
    side = next((vocab.sides[t] for t in tokens if t in vocab.sides), None)
    if side is not None:
        tokens.remove(next(t for t in tokens if t in vocab.sides))
    elif len(tokens) == 1 and tokens[0][:1] in ("l", "r"):
        # OpenPose-style "Rsho", "Leye": only when the rest is a joint that has sides
        rest = tokens[0][1:]
        word = vocab.abbreviations.get(rest, rest)
        if f"left_{vocab.synonyms.get(word, word)}" in vocab.joints:
            side, tokens = ("left" if tokens[0][0] == "l" else "right"), [rest]
    stem = "_".join(vocab.abbreviations.get(t, t) for t in tokens)
    stem = vocab.synonyms.get(stem, stem)
    if side is None:
        return vocab.midline_synonyms.get(stem, stem)
    return f"{side}_{stem}" if stem else side


# -- skeletons -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Joint:
    """One joint of a registry skeleton, in the skeleton's joint order.

    ``flip`` is the index of the mirror joint (its own index on the midline); ``sigma`` the OKS
    sigma or None where none is published; ``approx`` is True where the joint is only
    approximately its canonical one; ``midpoint_of`` the indices of the two joints this one is
    defined as the midpoint of (OpenPose-18's neck), else None.
    """

    name: str
    canonical: str
    part: str
    flip: int
    sigma: float | None
    approx: bool = False
    midpoint_of: tuple[int, int] | None = None


@dataclass(frozen=True)
class Skeleton:
    """A registry skeleton: its joints in order, its bones (0-based pairs) and its sources.

    ``sources`` pairs what kind of value (``sigma``, ``flip``…) with where it comes from.
    ``match_by_count`` lists the formats in which a category that names no joints but has this
    many is taken to be this skeleton; ``match_subsets`` the formats whose categories carry a
    subset of its joints (FashionAI garments).
    """

    name: str
    title: str
    description: str
    joints: tuple[Joint, ...]
    bones: tuple[tuple[int, int], ...]
    sources: tuple[tuple[str, str], ...]
    match_by_count: frozenset[str] = frozenset()
    match_subsets: frozenset[str] = frozenset()

    def __len__(self) -> int:
        return len(self.joints)

    @property
    def names(self) -> tuple[str, ...]:
        """The joint names as the dataset spells them, in joint order."""
        return tuple(j.name for j in self.joints)

    @property
    def canonicals(self) -> tuple[str, ...]:
        """The joints' canonical names, in joint order."""
        return tuple(j.canonical for j in self.joints)

    @property
    def flip_index(self) -> tuple[int, ...]:
        """Each joint's mirror joint index (a horizontal flip permutes the joints by it)."""
        return tuple(j.flip for j in self.joints)

    @property
    def sigmas(self) -> tuple[float | None, ...]:
        """Each joint's OKS sigma, None where unknown."""
        return tuple(j.sigma for j in self.joints)


def _skeleton_from(data: dict, file_name: str) -> Skeleton:
    vocab = vocabulary()
    try:
        rows = data["joints"]
        index = {j["name"]: i for i, j in enumerate(rows)}
        if len(index) != len(rows):
            raise SkeletonError(f"registry file {file_name}: joint names repeat")
        joints = []
        for i, j in enumerate(rows):
            where = f"registry file {file_name}: joints[{i}] ({j['name']!r})"
            if j["canonical"] not in vocab.joints:
                raise SkeletonError(
                    f"{where}: canonical {j['canonical']!r} is not in the vocabulary"
                )
            if j["flip"] not in index:
                raise SkeletonError(f"{where}: flip {j['flip']!r} is not a joint of this skeleton")
            ends = j.get("midpoint_of")
            if ends is not None and (len(ends) != 2 or not all(e in index for e in ends)):
                raise SkeletonError(f"{where}: midpoint_of {ends!r} must name two of its joints")
            sigma = j["sigma"]
            joints.append(
                Joint(
                    j["name"],
                    j["canonical"],
                    j["part"],
                    index[j["flip"]],
                    None if sigma is None else float(sigma),
                    bool(j.get("approx", False)),
                    None if ends is None else (index[ends[0]], index[ends[1]]),
                )
            )
        return Skeleton(
            data["name"],
            data["title"],
            data["description"],
            tuple(joints),
            tuple((int(a), int(b)) for a, b in data["bones"]),
            tuple((s["what"], s["from"]) for s in data["sources"]),
            frozenset(data.get("match_by_count", ())),
            frozenset(data.get("match_subsets", ())),
        )
    except (KeyError, TypeError, ValueError) as e:
        raise SkeletonError(f"registry file {file_name}: missing or malformed {e}") from e


@cache
def skeletons() -> Mapping[str, Skeleton]:
    """Every registry skeleton by name (read-only), read once from ``posestore/skeletons/*.json``."""
    folder = resources.files("posestore").joinpath(REGISTRY_DIR)
    files = sorted(
        f.name for f in folder.iterdir() if f.name.endswith(".json") and not f.name.startswith("_")
    )
    found = {}
    for file_name in files:
        skel = _skeleton_from(_read_json(file_name), file_name)
        if f"{skel.name}.json" != file_name:
            raise SkeletonError(f"registry file {file_name} holds skeleton {skel.name!r}")
        found[skel.name] = skel
    return MappingProxyType(found)


def skeleton(name: str) -> Skeleton:
    """The registry skeleton called ``name`` (``coco17``, ``halpe26``…)."""
    try:
        return skeletons()[name]
    except KeyError as e:
        known = ", ".join(skeletons())
        raise SkeletonError(f"unknown skeleton {name!r}; the registry has {known}") from e


def load_skeleton(path: str | Path) -> Skeleton:
    """A skeleton from a file of the registry's form (a user's own: name, title, description,
    sources, joints with name/canonical/part/flip/sigma, bones)."""
    import json

    path = Path(path)
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError) as e:
        raise SkeletonError(f"{path}: not a readable skeleton file: {e}") from e
    if not isinstance(data, dict):
        raise SkeletonError(f"{path}: a skeleton file is a JSON object")
    return _skeleton_from(data, str(path))


@cache
def _name_keys(name: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A skeleton's joints as normalised names and as canonical names, in joint order."""
    skel = skeleton(name)
    return tuple(normalise_joint_name(n) for n in skel.names), skel.canonicals


# -- matching a category -------------------------------------------------------------------------


@dataclass(frozen=True)
class Match:
    """What a category's joints mean, per joint in the category's own order.

    ``skeleton`` is the registry skeleton the category is (None for a ``partial`` match);
    ``how`` says how it was found: ``names`` (the same set of joint names as the skeleton),
    ``subset`` (some of the skeleton's joints, in a format whose categories are subsets),
    ``count`` (no usable names; the joint count and format decided), or ``partial`` (no skeleton
    fits; each joint whose name the vocabulary knows gets its canonical name, mirror pairs come
    from the names, sigmas are unknown). ``same_order`` is True where the category lists the
    joints in the skeleton's order. Per joint: ``canonical``, ``part`` and ``sigma`` (None where
    unknown), ``flip`` (the index *within the category* of the mirror joint, None where the
    category lacks it), ``approx``, and ``joint`` (the joint's index in the skeleton; None for
    ``partial``). ``nearest`` names, for a ``partial`` match, the skeleton whose canonical joints
    overlap its known ones most (by intersection over union), else None.
    """

    skeleton: str | None
    how: MatchHow
    same_order: bool
    canonical: tuple[str | None, ...]
    part: tuple[str | None, ...]
    flip: tuple[int | None, ...]
    sigma: tuple[float | None, ...]
    approx: tuple[bool, ...]
    joint: tuple[int | None, ...]
    nearest: str | None = None


def _registry_match(skel: Skeleton, how: MatchHow, joint: Sequence[int]) -> Match:
    """A match to ``skel`` where category joint i is the skeleton's joint ``joint[i]``."""
    position = {k: i for i, k in enumerate(joint)}
    rows = [skel.joints[k] for k in joint]
    return Match(
        skel.name,
        how,
        tuple(joint) == tuple(range(len(skel))),
        tuple(j.canonical for j in rows),
        tuple(j.part for j in rows),
        tuple(position.get(j.flip) for j in rows),
        tuple(j.sigma for j in rows),
        tuple(j.approx for j in rows),
        tuple(joint),
    )


def _match_by_names(cleaned: list[str], format: str) -> Match | None:
    """The skeleton with the same joint set, else (where ``format`` allows) the smallest superset.

    Several skeletons can share a joint set in different orders (CrowdPose-14 and AIC-14): then
    the one listing the joints in the category's order wins, and without one the category is
    ambiguous (None here; the caller falls back to a partial match).
    """
    wanted = set(cleaned)
    same_set: dict[str, tuple[str, ...]] = {}
    subset_of = []
    for skel in skeletons().values():
        for keys in _name_keys(skel.name):
            if wanted == set(keys):
                same_set.setdefault(skel.name, keys)
            elif format in skel.match_subsets and wanted < set(keys):
                subset_of.append((len(skel), skel.name, keys))
    in_order = [name for name, keys in same_set.items() if list(keys) == cleaned]
    if len(same_set) == 1 or in_order:
        name = in_order[0] if in_order else next(iter(same_set))
        where = {k: i for i, k in enumerate(same_set[name])}
        return _registry_match(skeleton(name), "names", [where[c] for c in cleaned])
    if not same_set and subset_of:
        _, name, keys = min(subset_of)
        where = {k: i for i, k in enumerate(keys)}
        return _registry_match(skeleton(name), "subset", [where[c] for c in cleaned])
    return None


def _partial_match(cleaned: list[str]) -> Match | None:
    vocab = vocabulary()
    canonical = [c if c in vocab.joints else None for c in cleaned]
    position = {c: i for i, c in enumerate(cleaned)}
    flip = []
    for c in cleaned:
        mirror = vocab.joints[c].mirror if c in vocab.joints else _mirror_by_side(c)
        # an unknown name without a side has no mirror we can tell
        flip.append(position.get(mirror) if mirror != c or c in vocab.joints else None)
    if not any(canonical) and all(f is None for f in flip):
        return None
    known = {c for c in canonical if c}
    overlaps = [
        (len(known & set(s.canonicals)) / len(known | set(s.canonicals)), -len(s), name)
        for name, s in skeletons().items()
    ]
    best = max(overlaps, default=(0.0, 0, None))
    return Match(
        None,
        "partial",
        False,
        tuple(canonical),
        tuple(vocab.joints[c].part if c else None for c in canonical),
        tuple(flip),
        (None,) * len(cleaned),
        (False,) * len(cleaned),
        (None,) * len(cleaned),
        nearest=best[2] if best[0] > 0 else None,
    )


def match_category(names: Sequence[str], num_joints: int, format: str) -> Match | None:
    """The registry skeleton of a category, and what each of its joints means.

    ``names`` is the category's joint names (COCO ``keypoints``; may be empty), ``num_joints``
    the joint count its data has, ``format`` the source format (``coco``, ``pyskl``,
    ``fashionai``…). Names are normalised (:func:`normalise_joint_name`) and compared as sets
    with each skeleton's joint names and with its canonical names, so order does not matter
    (``same_order`` reports whether it is the skeleton's). In a format whose categories carry
    a subset of a skeleton (``fashionai`` → ``fashionai24``) a subset matches too.

    Where the names are unusable (none, not ``num_joints`` of them, repeated after
    normalisation, or none the vocabulary knows), the joint count decides among the skeletons
    that accept ``format`` for it (COCO JSON: 17 → ``coco17``, 26 → ``halpe26``, 133 →
    ``coco_wholebody133``, 136 → ``halpe136``; PYSKL: 17 → ``coco17``, 18 → ``openpose18``,
    25 → ``ntu25``).

    Returns a :class:`Match`; a ``partial`` one (``skeleton`` None) where usable names fit no
    skeleton but some are known joints or left/right pairs; None where nothing is known — the
    caller should warn in both cases.
    """
    cleaned = [normalise_joint_name(str(n)) for n in names]
    usable = bool(cleaned) and len(cleaned) == num_joints and len(set(cleaned)) == len(cleaned)
    if usable:
        found = _match_by_names(cleaned, format)
        if found is not None:
            return found
    if not usable or not any(c in vocabulary().joints for c in cleaned):
        for skel in skeletons().values():
            if len(skel) == num_joints and format in skel.match_by_count:
                return _registry_match(skel, "count", range(num_joints))
    return _partial_match(cleaned) if usable else None


# -- projection ----------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)  # holds arrays: compare .source and .midpoint instead
class Projection:
    """How to fill each joint of skeleton ``to`` from arrays laid out in another joint order.

    ``source[t]`` is the source joint copied into target joint ``t``, or -1; ``midpoint[t]`` the
    two source joints whose midpoint target joint ``t`` is, or (-1, -1). A target joint with
    neither is written unlabelled. ``num_from`` is the source's joint count.
    """

    to: str
    num_from: int
    source: np.ndarray
    midpoint: np.ndarray

    @property
    def missing(self) -> tuple[str, ...]:
        """Canonical names of the target joints a projection leaves unlabelled."""
        empty = (self.source < 0) & (self.midpoint[:, 0] < 0)
        return tuple(skeleton(self.to).canonicals[t] for t in np.flatnonzero(empty))


def projection(from_canonicals: Sequence[str | None], to: Skeleton | str) -> Projection:
    """The projection from joints with these canonical names (None: unknown) onto ``to``.

    A target joint whose canonical name the source has is copied (the first such source joint).
    A target joint the registry defines as a midpoint (OpenPose-18's neck) and the source lacks
    is computed from the two ends where the source has both. Any other is left unlabelled.
    """
    target = skeleton(to) if isinstance(to, str) else to
    first: dict[str, int] = {}
    for i, c in enumerate(from_canonicals):
        if c is not None:
            first.setdefault(c, i)
    source = np.full(len(target), -1, dtype=np.int64)
    midpoint = np.full((len(target), 2), -1, dtype=np.int64)
    for t, joint in enumerate(target.joints):
        if joint.canonical in first:
            source[t] = first[joint.canonical]
        elif joint.midpoint_of is not None:
            ends = [target.joints[e].canonical for e in joint.midpoint_of]
            if all(e in first for e in ends):
                midpoint[t] = [first[e] for e in ends]
    return Projection(target.name, len(from_canonicals), source, midpoint)


def project(
    x: np.ndarray, y: np.ndarray, v: np.ndarray, projection: Projection
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Poses ``x``, ``y``, ``v`` shaped ``[..., V_from]`` as ``[..., V_to]`` of the target.

    Copied joints keep their values; a midpoint joint is the mean of its two ends, labelled only
    where both ends are (``v > 0``), with the smaller of their visibilities; every other target
    joint is unlabelled (x = y = 0, v = 0). Dtypes are kept. One gather per array, no loop per
    keypoint.
    """
    x, y, v = np.asarray(x), np.asarray(y), np.asarray(v)
    if not (x.shape == y.shape == v.shape) or x.ndim == 0 or x.shape[-1] != projection.num_from:
        raise SkeletonError(
            f"project: x, y, v must share a shape [..., {projection.num_from}], "
            f"got {x.shape}, {y.shape}, {v.shape}"
        )
    shape = (*x.shape[:-1], len(projection.source))
    out = [np.zeros(shape, dtype=a.dtype) for a in (x, y, v)]
    copied = np.flatnonzero(projection.source >= 0)
    for src, dst in zip((x, y, v), out):
        dst[..., copied] = src[..., projection.source[copied]]
    mid = np.flatnonzero(projection.midpoint[:, 0] >= 0)
    if mid.size:
        a, b = projection.midpoint[mid, 0], projection.midpoint[mid, 1]
        both = (v[..., a] > 0) & (v[..., b] > 0)
        for src, dst in zip((x, y), out[:2]):
            dst[..., mid] = np.where(both, (src[..., a] + src[..., b]) / 2, 0)
        out[2][..., mid] = np.where(both, np.minimum(v[..., a], v[..., b]), 0)
    return out[0], out[1], out[2]
