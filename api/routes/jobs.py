"""Background job endpoints (issue 15, long jobs)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["jobs"])
