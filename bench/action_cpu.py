"""Server CPU per kind of run, one websocket client at a time (no load, so the host's noise matters less).

    GNNREC_DATA_DIR=/tmp/gnnrec-cache OMP_NUM_THREADS=1 python bench/action_cpu.py [--cycles 8] [--hold]

Starts ``streamlit run app.py`` as bench/load.py does and, per cycle, opens a share link with 3
ratings, then 4 times picks a movie in "Find a movie" and clicks its stars. Prints, per kind of
run (link, pick, stars), the server process's CPU seconds (user + system, from /proc, 10 ms ticks:
read the means) and the client's wall time. The load average is printed: compare runs taken back to back.

``--hold``: one more session stays open throughout, as under bench/load.py's load. Without it, a
share link closes the server's only session, and Streamlit then empties its script cache, so each
link's run compiles app.py and the page again (~3 ms that a link under load does not pay).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load import Server, WsTab, movie_labels  # noqa: E402  (bench/load.py: the server and the client)


async def cycles(srv: Server, n: int, hold: bool = False) -> dict[str, tuple[list[float], list[float]]]:
    labels, rng = movie_labels(), random.Random(1)
    movies = list(labels)
    tab, held = WsTab(srv.url, None), WsTab(srv.url, None)
    if hold:
        await held.open_link({1: 4, 50: 5})
    await tab.open_link({50: 5, 181: 4})  # warm: the model, the caches
    out: dict[str, tuple[list[float], list[float]]] = {k: ([], []) for k in ("link", "pick", "stars")}

    async def timed(kind: str, action) -> None:  # action: a coroutine not yet started
        c0, t0 = srv.cpu_seconds(), time.perf_counter()
        await action
        wall = time.perf_counter() - t0
        await asyncio.sleep(0.3)  # the run's last messages sent
        out[kind][0].append(srv.cpu_seconds() - c0)
        out[kind][1].append(wall)

    try:
        for _ in range(n):
            ratings = {m: rng.randint(1, 5) for m in rng.sample(movies, 3)}
            await timed("link", tab.open_link(ratings))
            for _ in range(4):
                m = rng.choice([m for m in movies if m not in ratings])
                ratings[m] = rng.randint(1, 5)
                s = tab.session
                await timed("pick", s.rerun({"rate_movie": ("string_value", labels[m])}, timeout=60))
                key = next(k for k in s.user_keys() if k.startswith("rate_stars_"))
                await timed("stars", s.rerun({key: ("string_value", str(ratings[m] - 1))}, timeout=60, full=True))
                tab._expect_recommendations(len(ratings))
    finally:
        await tab.close()
        await held.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cycles", type=int, default=8, help="share links, each followed by 4 ratings (default 8)")
    ap.add_argument("--hold", action="store_true", help="keep one more session open throughout (as under load)")
    args = ap.parse_args()
    srv = Server(Path(tempfile.mkdtemp()))
    try:
        out = asyncio.run(cycles(srv, args.cycles, args.hold))
    finally:
        srv.stop()
    for kind, (cpu, wall) in out.items():
        print(f"  {kind:<6} n={len(cpu):3d}  server CPU mean {statistics.mean(cpu) * 1e3:6.1f} ms  "
              f"median {statistics.median(cpu) * 1e3:6.1f} ms   client wall median {statistics.median(wall) * 1e3:6.1f} ms")
    print(f"host: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
