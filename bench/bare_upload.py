"""The least an upload endpoint can do on this stack, for ``load_uploads.py --floor``: a bare
Starlette route at the entry API's path that reads the same multipart form (python-multipart,
as the app does), puts the file into the bucket with boto3 in a thread and answers 201 with a
receipt code. No database, no checks, no queue: what any app served by the same uvicorn, with
the same workers, at the same S3 endpoint, cannot do better than.

Served by ``uvicorn bench.bare_upload:app --workers N``; the bucket and the endpoint come from
BARE_UPLOAD_BUCKET and BARE_UPLOAD_ENDPOINT.
"""

from __future__ import annotations

import asyncio
import os
import secrets

import boto3
from botocore.config import Config
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

BUCKET = os.environ.get("BARE_UPLOAD_BUCKET", "")
s3 = boto3.client(
    "s3",
    endpoint_url=os.environ.get("BARE_UPLOAD_ENDPOINT"),
    region_name="us-east-1",
    config=Config(max_pool_connections=100),
)


async def upload(request: Request) -> JSONResponse:
    form = await request.form()
    file = form["file"]
    assert isinstance(file, UploadFile)
    body = await file.read()
    code = secrets.token_hex(5)
    await asyncio.to_thread(
        s3.put_object, Bucket=BUCKET, Key=f"bare/{code}.png", Body=body, ContentType="image/png"
    )
    return JSONResponse({"entry": {"receipt_code": code}}, status_code=201)


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


app = Starlette(
    routes=[
        Route("/api/v1/contests/{slug}/entries", upload, methods=["POST"]),
        Route("/healthz", healthz),
    ]
)
