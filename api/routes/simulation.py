"""Outcome simulation endpoints (issue 16)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["simulation"])
