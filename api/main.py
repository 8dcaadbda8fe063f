"""The FastAPI application: collects the routers and maps domain errors to problem+json."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from api import portal, problems
from api.limits import BoundedBodies
from api.routes import (
    audit,
    changes,
    contracts,
    debt_service,
    investors,
    jobs,
    ledger,
    loans,
    money,
    settlement,
    simulation,
)
from api.security import FailedAuthLimiter, SecurityHeaders
from api.settings import get_settings
from ledger.errors import SibError


def create_app(database_url: str | None = None) -> FastAPI:
    """The service; ``database_url`` overrides the settings (tests)."""
    # /docs and /redoc are the portal's (api.portal.docs): served from local files, no CDN.
    app = FastAPI(title="SIB settlement", version="0.1.0", docs_url=None, redoc_url=None,
                  description="System of record for Social Impact Bond contracts: ledger, "
                              "contracts, settlement, investors. Errors are "
                              "application/problem+json (RFC 9457); money is "
                              '{"amount": "1234567", "currency": "JPY"}; every write needs an '
                              "Idempotency-Key header.")
    app.state.database_url = database_url
    app.state.auth_limiter = FailedAuthLimiter(get_settings().auth_failures_per_minute)
    app.add_exception_handler(SibError, problems.sib_error_handler)
    app.add_exception_handler(RequestValidationError, problems.validation_error_handler)
    app.add_exception_handler(StarletteHTTPException, problems.http_error_handler)
    app.add_exception_handler(DBAPIError, problems.database_error_handler)
    app.add_exception_handler(OverflowError, problems.overflow_error_handler)
    app.add_exception_handler(Exception, problems.unexpected_error_handler)
    app.add_middleware(BoundedBodies)
    # Outermost of ours: its headers go on every response, a body refused as too large too.
    app.add_middleware(SecurityHeaders)
    for router in (ledger.router, contracts.router, settlement.router, money.router,
                   investors.router, changes.router, audit.router, debt_service.router):
        app.include_router(router, responses=problems.ERROR_RESPONSES)
    app.include_router(loans.router, responses=problems.ERROR_RESPONSES)
    app.include_router(simulation.router, responses=problems.ERROR_RESPONSES)
    app.include_router(jobs.router, responses=problems.ERROR_RESPONSES)
    portal.install(app)

    @app.get("/health", tags=["service"])
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


app = create_app()
