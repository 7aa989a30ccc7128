"""Fixtures for the web app: a small example trial, an app over a fresh store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from web_fixtures import SMALL_TRIAL

from il2sim.web import create_app


@pytest.fixture()
def examples(tmp_path: Path) -> Path:
    folder = tmp_path / "examples"
    folder.mkdir()
    (folder / "small.toml").write_text(SMALL_TRIAL)
    return folder


@pytest.fixture()
def client(tmp_path: Path, examples: Path) -> Iterator[TestClient]:
    app = create_app(tmp_path / "web.duckdb", examples=examples, max_patients=50)
    with TestClient(app) as c:
        yield c
