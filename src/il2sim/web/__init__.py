"""il2sim web: a local web app over the library (``il2sim serve``).

:func:`create_app` builds the FastAPI application (see :mod:`il2sim.web.app`);
:func:`serve` runs it with uvicorn, on loopback by default.
"""

from __future__ import annotations

from pathlib import Path

from il2sim.web.app import create_app

__all__ = ["create_app", "serve"]


def serve(db: str | Path, *, host: str = "127.0.0.1", port: int = 8000,
          examples: str | Path | None = None, max_patients: int = 2000) -> None:
    """Run the web app until interrupted (Ctrl-C)."""
    import uvicorn

    app = create_app(db, examples=examples, max_patients=max_patients)
    uvicorn.run(app, host=host, port=port, log_level="warning")
