"""One trained model, alone in a fresh process: held-out NLU scores, per-message parse
latency and resident memory. Run by the quality and pipeline benchmarks as

    python -m bench.nlu_probe MODEL.tar.gz

and prints one JSON object (a fresh process, so the memory is this model's alone).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import psutil

from bench.quality import nlu_scores


def main(model: str) -> int:
    scores = nlu_scores(Path(model))
    scores["memory_mb"] = round(psutil.Process().memory_info().rss / 2 ** 20, 1)
    print(json.dumps(scores, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
