"""Build steps that `make` runs: knowledge base and model, each only when stale.

    python -m bot.build kb      # rebuild the knowledge DB if knowledge/ changed
    python -m bot.build model   # retrain if training data, config, KB or NLU code changed
    python -m bot.build eval    # score ../shared/eval/dev_cases.yaml against a running bot

Staleness is a content hash, stored next to the artefact; a model whose hash does not
match the sources is never served (the launcher checks the same hash).
"""
from __future__ import annotations

import hashlib
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Iterable, List, Optional

from sqlalchemy.exc import SQLAlchemyError

from bot.config import ROOT, load_settings

MODEL_DIR = ROOT / "models"
MODEL = MODEL_DIR / "current.tar.gz"
MODEL_HASH = MODEL_DIR / "current.sha256"
# What changes the trained model: Rasa's inputs, the knowledge files the procedure
# extractor and normaliser read, and the code that tokenizes and extracts. Q&A entries,
# departments and municipalities are read at answer time: editing them needs no retrain.
TRAINING_INPUTS = ("config.yml", "domain.yml", "data/**/*.yml", "knowledge/procedures/*.yaml",
                   "knowledge/life_events.yaml", "knowledge/typos.yaml",
                   "knowledge/loader.py", "knowledge/schema.py", "bot/nlu/*.py",
                   "requirements/rasa.txt")
EVAL_CASES = ROOT.parent / "shared" / "eval" / "dev_cases.yaml"


def _files(patterns: Iterable[str]) -> List[Path]:
    return sorted({path for pattern in patterns for path in ROOT.glob(pattern) if path.is_file()})


def training_hash() -> str:
    """Hash of everything that changes what the model does."""
    digest = hashlib.sha256()
    for path in _files(TRAINING_INPUTS):
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def model_is_current() -> bool:
    return MODEL.exists() and MODEL_HASH.exists() and MODEL_HASH.read_text().strip() == training_hash()


def build_kb() -> int:
    """Rebuild the knowledge database when the knowledge files changed."""
    from knowledge.loader import content_hash, main as load
    from knowledge.queries import KnowledgeBase, content_hash_of

    url = load_settings().knowledge_db_url
    kb = KnowledgeBase(url)
    try:
        with kb.session() as session:
            if content_hash_of(session) == content_hash():
                print("knowledge base up to date")
                return 0
    except SQLAlchemyError:
        pass  # no database yet, or an old schema: build it
    finally:
        kb.close()
    return load(["--db", url])


def build_model() -> int:
    """Train when stale; write the hash only after a successful training."""
    if model_is_current():
        print(f"model up to date: {MODEL.relative_to(ROOT)}")
        return 0
    digest = training_hash()
    print("training the model (training data, config or knowledge base changed)...", flush=True)
    MODEL_DIR.mkdir(exist_ok=True)
    MODEL_HASH.unlink(missing_ok=True)
    result = subprocess.run(
        [sys.executable, "-m", "rasa", "train", "--fixed-model-name", "current",
         "--out", str(MODEL_DIR)], cwd=ROOT)
    if result.returncode != 0 or not MODEL.exists():
        print("training failed", file=sys.stderr)
        return result.returncode or 1
    MODEL_HASH.write_text(digest)
    return 0


def run_eval(url: Optional[str] = None) -> int:
    """The shared scorer against the running bot, or a clear message when none runs."""
    url = url or f"http://127.0.0.1:{load_settings().rasa_port}"
    try:
        urllib.request.urlopen(f"{url}/webhooks/rest/", timeout=5).read()
    except OSError:
        print(f"no bot answers at {url}: start it with `make run` first", file=sys.stderr)
        return 1
    return subprocess.call([sys.executable, str(ROOT.parent / "shared" / "eval" / "run_eval.py"),
                            str(EVAL_CASES), "--url", url])


def main(argv: List[str]) -> int:
    commands = {"kb": build_kb, "model": build_model, "eval": run_eval}
    if len(argv) != 1 or argv[0] not in commands:
        print(__doc__, file=sys.stderr)
        return 2
    return commands[argv[0]]()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
