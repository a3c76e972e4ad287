"""Which routes the app serves: each part's thin router, given what it needs from the services."""

from __future__ import annotations

from fastapi import APIRouter

from keys.api import build_router as keys_router
from xacthuc.services import Services


def build_routers(services: Services) -> list[APIRouter]:
    return [
        keys_router(services.session, services.require_city, services.clock),
    ]
