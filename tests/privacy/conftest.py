"""The privacy suite runs its storage-touching tests on the local folder and on S3, with the
intake suite's fixtures (the demo with small limits, the backend under test, the app)."""

from tests.intake.conftest import (
    admin,
    api_refused,
    app,
    backend,
    intake_settings,
    leftovers,
    nothing_stored,
    run_jobs,
    seeded,
    store,
)

__all__ = [
    "admin",
    "api_refused",
    "app",
    "backend",
    "intake_settings",
    "leftovers",
    "nothing_stored",
    "run_jobs",
    "seeded",
    "store",
]
