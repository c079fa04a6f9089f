"""How well ``suspected_swaps`` finds left/right swaps injected into real COCO-family files.

    python benchmarks/swaps.py [--real DIR] [--rate 0.2] [--seed 0] [--examples 5]

For every real COCO-family file (``coco_keypoints/``, ``cvat_coco/``) and every category of it
with at least 10 labelled persons whose joints the registry knows, a seeded 20% of the persons
get one kind of swap injected (``KINDS``: the wrists, the ankles, the whole arm chain —
shoulders, elbows and wrists — or every left/right pair), chosen at random among the kinds that
change that person. Prints, per file and overall, the recall on the injected persons (per kind
too) and the false-alarm rate on the untouched ones, for the final heuristic and the
alternatives, and the persons flagged in the untouched files.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from posestore.queries.swaps import METHODS, suspected_swaps

from posestore.skeleton import match_category

REAL = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "real"
FOLDERS = ("coco_keypoints", "cvat_coco")
MIN_PERSONS = 10
KINDS: dict[str, tuple[str, ...]] = {
    "wrists": ("wrist",),
    "ankles": ("ankle",),
    "arm": ("shoulder", "elbow", "wrist"),
    "all": ("eye", "ear", "shoulder", "elbow", "wrist", "hip", "knee", "ankle"),
}
"""Injected swap kinds: the left/right pairs (canonical stems) each swaps."""


@dataclass
class Block:
    """The labelled persons of one category of one real file, as [N, V] arrays."""

    file: str
    category: int
    x: np.ndarray
    y: np.ndarray
    v: np.ndarray
    canonical: tuple[str | None, ...]
    flip: tuple[int | None, ...]
    ids: np.ndarray
    duplicate_of: str | None = None


def real_blocks(root: Path = REAL) -> Iterator[Block]:
    """Every category block with ≥ ``MIN_PERSONS`` labelled persons and known left/right pairs."""
    seen: dict[str, str] = {}
    for folder in FOLDERS:
        for path in sorted((root / folder).glob("*.json")):
            doc = json.loads(path.read_bytes())
            cats = {c.get("id"): c for c in doc.get("categories") or []}
            by_cat: dict[int, list[dict]] = {}
            for a in doc.get("annotations") or []:
                if a.get("keypoints"):
                    by_cat.setdefault(a.get("category_id"), []).append(a)
            for cid, anns in by_cat.items():
                size = len(anns[0]["keypoints"])
                anns = [a for a in anns if len(a["keypoints"]) == size]
                k = np.asarray([a["keypoints"] for a in anns], dtype=np.float64)
                k = k.reshape(len(anns), size // 3, 3)
                keep = (k[:, :, 2] > 0).any(1)
                if keep.sum() < MIN_PERSONS:
                    continue
                names = (cats.get(cid) or {}).get("keypoints") or []
                found = match_category(names, size // 3, "coco")
                if found is None:
                    continue
                canon = set(found.canonical)
                if not any(f"left_{s}" in canon for s in KINDS["all"]):
                    continue
                k = k[keep]
                digest = hashlib.sha256(k.tobytes()).hexdigest()
                ids = np.asarray([str(a.get("id")) for a, kk in zip(anns, keep) if kk])
                yield Block(
                    path.name,
                    cid,
                    k[:, :, 0],
                    k[:, :, 1],
                    k[:, :, 2].astype(np.int8),
                    found.canonical,
                    found.flip,
                    ids,
                    seen.get(digest),
                )
                seen.setdefault(digest, path.name)


def inject(block: Block, rate: float, seed: int) -> tuple[np.ndarray, ...]:
    """Swap one kind of left/right pair in a seeded ``rate`` of the persons.

    Returns x, y, v with the swaps and the kind per person ("" where untouched). A kind is
    drawn among those with at least one pair labelled on both sides for that person, so every
    injected swap moves joints; persons with no such kind stay untouched.
    """
    rng = np.random.default_rng(
        [seed, int.from_bytes(hashlib.sha256(block.file.encode()).digest()[:4], "little")]
    )
    index = {c: i for i, c in enumerate(block.canonical) if c is not None}
    lab = block.v > 0
    n = len(block.v)
    names = list(KINDS)
    usable = np.zeros((n, len(names)), dtype=bool)
    cols = []
    for k, stems in enumerate(names):
        li = [
            index[f"left_{s}"]
            for s in KINDS[stems]
            if f"left_{s}" in index and f"right_{s}" in index
        ]
        ri = [
            index[f"right_{s}"]
            for s in KINDS[stems]
            if f"left_{s}" in index and f"right_{s}" in index
        ]
        cols.append((np.array(li, dtype=np.int64), np.array(ri, dtype=np.int64)))
        if li:
            usable[:, k] = (lab[:, li] & lab[:, ri]).any(1)
    chosen = (rng.random(n) < rate) & usable.any(1)
    # a random usable kind per chosen person: the argmax of random keys over the usable ones
    pick = np.argmax(np.where(usable, rng.random(usable.shape), -1.0), axis=1)
    kind = np.where(chosen, np.asarray(names, dtype=object)[pick], "")
    x, y, v = block.x.copy(), block.y.copy(), block.v.copy()
    for k, (li, ri) in enumerate(cols):
        rows = np.flatnonzero(chosen & (pick == k))
        if not len(rows) or not len(li):
            continue
        for a in (x, y, v):
            left = a[np.ix_(rows, li)]
            a[np.ix_(rows, li)] = a[np.ix_(rows, ri)]
            a[np.ix_(rows, ri)] = left
    return x, y, v, kind.astype(str)


@dataclass
class Score:
    """Counts for one file and one method."""

    injected: int = 0
    found: int = 0
    untouched: int = 0
    alarms: int = 0
    real_flagged: int = 0
    persons: int = 0

    def add(self, other: Score) -> None:
        for f in self.__dataclass_fields__:
            setattr(self, f, getattr(self, f) + getattr(other, f))


def _pct(a: int, b: int) -> str:
    return f"{100 * a / b:5.1f}%" if b else "    -"


def measure(rate: float = 0.2, seed: int = 0, root: Path = REAL) -> dict:
    """Per file, per method: counts, and recall per injected kind; the blocks measured."""
    per_file: dict[str, dict[str, Score]] = {}
    per_kind: dict[str, dict[str, list[int]]] = {m: {k: [0, 0] for k in KINDS} for m in METHODS}
    blocks = []
    for block in real_blocks(root):
        blocks.append(block)
        if block.duplicate_of:
            continue
        x, y, v, kind = inject(block, rate, seed)
        hit = kind != ""
        name = block.file if block.category == 1 else f"{block.file} [cat {block.category}]"
        for method in METHODS:
            real = suspected_swaps(
                block.x, block.y, block.v, block.canonical, block.flip, method=method
            )
            found = suspected_swaps(x, y, v, block.canonical, block.flip, method=method)
            s = Score(
                int(hit.sum()),
                int((found.suspected & hit).sum()),
                int((~hit).sum()),
                int((found.suspected & ~hit).sum()),
                int(real.suspected.sum()),
                len(hit),
            )
            per_file.setdefault(name, {})[method] = s
            for k in KINDS:
                sel = kind == k
                per_kind[method][k][0] += int(sel.sum())
                per_kind[method][k][1] += int((found.suspected & sel).sum())
    return {"per_file": per_file, "per_kind": per_kind, "blocks": blocks}


def table(result: dict) -> str:
    """The measurement as text tables."""
    lines = []
    per_file = result["per_file"]
    for method in METHODS:
        lines.append(f"\n== method: {method}")
        lines.append(
            f"{'file':58} {'persons':>7} {'injected':>8} {'recall':>7} {'untouched':>9} "
            f"{'false al.':>9} {'flagged in real file':>20}"
        )
        total = Score()
        for name, scores in per_file.items():
            s = scores[method]
            total.add(s)
            lines.append(
                f"{name[:58]:58} {s.persons:7d} {s.injected:8d} {_pct(s.found, s.injected):>7} "
                f"{s.untouched:9d} {_pct(s.alarms, s.untouched):>9} "
                f"{s.real_flagged:6d} ({_pct(s.real_flagged, s.persons).strip()})"
            )
        s = total
        lines.append(
            f"{'OVERALL':58} {s.persons:7d} {s.injected:8d} {_pct(s.found, s.injected):>7} "
            f"{s.untouched:9d} {_pct(s.alarms, s.untouched):>9} "
            f"{s.real_flagged:6d} ({_pct(s.real_flagged, s.persons).strip()})"
        )
        kinds = result["per_kind"][method]
        lines.append(
            "recall per kind: "
            + ", ".join(f"{k} {_pct(f, n).strip()} of {n}" for k, (n, f) in kinds.items())
        )
    dups = [b for b in result["blocks"] if b.duplicate_of]
    for b in dups:
        lines.append(f"(skipped {b.file}: the same persons as {b.duplicate_of})")
    return "\n".join(lines)


def overall(result: dict, method: str) -> Score:
    """The totals of one method over every file."""
    total = Score()
    for scores in result["per_file"].values():
        total.add(scores[method])
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", type=Path, default=REAL)
    parser.add_argument("--rate", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--examples", type=int, default=0, help="print flagged real persons")
    args = parser.parse_args()
    result = measure(args.rate, args.seed, args.real)
    print(table(result))
    if args.examples:
        print("\nflagged in the untouched real files:")
        for b in result["blocks"]:
            if b.duplicate_of:
                continue
            f = suspected_swaps(b.x, b.y, b.v, b.canonical, b.flip)
            for i in np.flatnonzero(f.suspected)[: args.examples]:
                print(f"  {b.file} id={b.ids[i]} score={f.score[i]:.2f} {f.reason[i]}")


if __name__ == "__main__":
    main()
