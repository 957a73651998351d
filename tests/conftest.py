"""Shared fixtures: the real knowledge files, loaded into a real SQLite database."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from knowledge.loader import ROOT as KNOWLEDGE_ROOT, build_database, content_hash, load_catalog
from knowledge.queries import KnowledgeBase


@pytest.fixture(scope="session")
def catalog():
    return load_catalog()


@pytest.fixture(scope="session")
def kb(tmp_path_factory, catalog):
    path = tmp_path_factory.mktemp("kb") / "knowledge.db"
    build_database(catalog, f"sqlite:///{path}", content_hash())
    base = KnowledgeBase(f"sqlite:///{path}")
    yield base
    base.close()


@pytest.fixture
def knowledge_copy(tmp_path) -> Path:
    """A writable copy of knowledge/ for tests that break it on purpose."""
    root = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE_ROOT, root, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return root
