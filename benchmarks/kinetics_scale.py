"""Kinetics at scale: ingest time and peak memory of a generated Kinetics-400-style index +
float16 kpfiles at several sizes, locally and with ``--engine ray`` on a local cluster, next to
``pickle.load`` of the same kpfiles (``make bench``'s scale section; alone:
``python benchmarks/kinetics_scale.py --sizes 2000 8000``).

Each figure is a fresh process (imports, and Ray's start for ``--engine ray``, included);
peak memory is the largest sum over the process and its children (Ray's daemons and
workers) sampled every 0.2 s, proportional set sizes so pages shared through Ray's object
store count once. Timings are reported, never asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SIZES = (2_000, 8_000, 32_000)
CLIPS_PER_KPFILE = 1_000

PICKLE_LOAD = (
    "import pickle, sys\nfrom pathlib import Path\n"
    "for f in sorted(Path(sys.argv[1]).glob('kpfiles/*.pkl')):\n"
    "    with f.open('rb') as fh:\n        pickle.load(fh)\n"
)
INDEX_LOAD = "import pickle, sys\nwith open(sys.argv[1], 'rb') as fh:\n    pickle.load(fh)\n"
"""The index alone: its clips' entries are in memory for the whole ingest (PYSKL's layout)."""
INGEST = (
    "import posestore, sys, warnings\nwarnings.simplefilter('ignore')\n"
    "posestore.open(sys.argv[2]).ingest(sys.argv[1], dataset='k400', engine=sys.argv[3])\n"
)


def generate(data: Path, clips: int) -> Path:
    """The index of ``clips`` generated clips (kept between runs under ``data``)."""
    from posestore import synthetic

    root = data / f"kinetics-{clips}"
    index = root / "k400_index.pkl"
    if not index.is_file():
        shutil.rmtree(root, ignore_errors=True)
        synthetic.kinetics_scale(root, clips, CLIPS_PER_KPFILE)
    return index


def run(argv: list[str]) -> tuple[float, int]:
    """Wall time and peak memory (the process tree's, summed) of one fresh process."""
    import psutil

    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        root = psutil.Process(proc.pid)
        while not done.is_set():
            total = 0
            try:
                family = [root, *root.children(recursive=True)]
            except psutil.Error:
                break
            for p in family:
                with contextlib.suppress(psutil.Error):
                    total += p.memory_full_info().pss
            peak = max(peak, total)
            done.wait(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, err = proc.communicate()
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    if proc.returncode:
        raise RuntimeError(f"{' '.join(argv)[:200]} failed:\n{err.decode()[-2000:]}")
    return wall, peak


def measure(
    data: Path, sizes: tuple[int, ...], repeat: int, engines: tuple[str, ...]
) -> list[dict]:
    """Per size: pickle.load of the kpfiles, then an ingest per engine (median wall of
    ``repeat`` runs, largest peak), the three alternating so drift falls on all of them."""
    results = []
    for clips in sizes:
        index = generate(data, clips)
        kpfiles = sum(f.stat().st_size for f in index.parent.glob("kpfiles/*.pkl"))
        runs: dict[str, list[tuple[float, int]]] = {"pickle.load": [], "index": []}
        work = Path(tempfile.mkdtemp(prefix="posestore-scale-"))
        try:
            for _ in range(repeat):
                runs["pickle.load"].append(
                    run([sys.executable, "-c", PICKLE_LOAD, str(index.parent)])
                )
                runs["index"].append(run([sys.executable, "-c", INDEX_LOAD, str(index)]))
                for engine in engines:
                    store = work / engine
                    shutil.rmtree(store, ignore_errors=True)
                    argv = [sys.executable, "-c", INGEST, str(index), str(store), engine]
                    runs.setdefault(engine, []).append(run(argv))
        finally:
            shutil.rmtree(work, ignore_errors=True)
        results.append(
            {
                "clips": clips,
                "kpfiles": len(list(index.parent.glob("kpfiles/*.pkl"))),
                "kpfile_bytes": kpfiles,
                **{
                    side: (statistics.median(w for w, _ in r), max(p for _, p in r))
                    for side, r in runs.items()
                },
            }
        )
    return results


def markdown(results: list[dict], engines: tuple[str, ...]) -> list[str]:
    """The scale section of RESULTS.md."""
    lines = [
        "## Kinetics at scale (`benchmarks/kinetics_scale.py`)",
        "",
        f"A generated Kinetics-400-style index + float16 kpfiles ({CLIPS_PER_KPFILE:,} clips to a "
        "kpfile, about 360 detections a clip), ingested in a fresh process; peak memory is the "
        "process tree's (Ray's daemons and workers included, proportional set sizes). Targets: "
        "local ≤ 3× `pickle.load` of the kpfiles and ≤ 1.5 GiB at every size; `--engine ray` "
        "(a local cluster of this machine's cores, its start included) ≤ 1.3× local. The index "
        "alone (`pickle.load` of it in a fresh process) is shown because its clips' entries stay "
        "in memory for the whole ingest: memory beyond it does not grow with the clips.",
        "",
        "| clips | kpfiles | `pickle.load` of the kpfiles | the index alone: peak | "
        + " | ".join(f"{e} ingest | {e} peak | {e} / pickle.load" for e in engines)
        + (" | ray / local |" if "ray" in engines and "local" in engines else " |"),
        "|---:|---:|---:|---:|"
        + "---:|---:|---:|" * len(engines)
        + ("---:|" if "ray" in engines and "local" in engines else ""),
    ]
    for r in results:
        load = r["pickle.load"][0]
        cells = [
            f"{r['clips']:,}",
            f"{r['kpfiles']} ({r['kpfile_bytes'] / 1e6:,.0f} MB)",
            f"{load:.2f} s",
            f"{r['index'][1] / 2**20:,.0f} MiB",
        ]
        for e in engines:
            wall, peak = r[e]
            cells += [
                f"{wall:.1f} s ({wall / r['clips'] * 1e3:.2f} ms a clip)",
                f"{peak / 2**30:.2f} GiB",
                f"{wall / load:.1f}×",
            ]
        if "ray" in engines and "local" in engines:
            cells.append(f"{r['ray'][0] / r['local'][0]:.2f}×")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--engines", nargs="+", default=["local", "ray"])
    ap.add_argument("--data", type=Path, default=HERE / "data")
    args = ap.parse_args()
    engines = tuple(args.engines)
    print("\n".join(markdown(measure(args.data, tuple(args.sizes), args.repeat, engines), engines)))


if __name__ == "__main__":
    main()
