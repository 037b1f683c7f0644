"""Background jobs: long work that runs in a worker, not inside a request.

- ``services``: the job rows (create, claim, progress, finish, fail, retry); the row is the truth.
- ``kinds``: what each kind of job does, by calling the same service functions as the pages,
  the API and the command line.
- ``queue``: the queue library (Huey) that wakes a worker: a SQLite file in the data dir that
  ``contest serve`` works through itself, or Redis shared by ``contest worker`` processes.
- ``worker``: running one job: claim it, keep its heartbeat, run its kind, record the outcome.
- ``routes``: the job's page (a progress bar) and ``/api/v1/jobs/{id}``.
"""
