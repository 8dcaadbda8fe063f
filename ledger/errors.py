"""The one root error type of the project, and the ledger's named refusals.

A refusal is a value before it is an exception: validation functions return lists of
:class:`Problem` so that every problem is reported at once; services raise :class:`SibError`
carrying them. Each problem has a stable ``code`` (what a script matches on), an optional
``field`` (where the problem is) and a ``message`` a finance officer can act on. Mapping to
HTTP happens only in ``api/``.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a request.

    Attributes:
        code: stable, upper-case identifier such as ``ENTRY_UNBALANCED``.
        message: a sentence a finance officer understands.
        field: dotted/indexed path of the offending input (``postings[1].amount``), if any.
        source: the file or request the input came from, if any.
    """

    code: str
    message: str
    field: str | None = None
    source: str | None = None

    def __str__(self) -> str:
        where = ":".join(p for p in (self.source, self.field) if p)
        return f"[{self.code}] {where + ': ' if where else ''}{self.message}"


class SibError(Exception):
    """Root of every error the project raises on purpose.

    Attributes:
        problems: every problem found (at least one).
        status: a hint for the HTTP layer: ``invalid``, ``not_found``, ``conflict``,
            ``forbidden``. The API maps it; domain code never sees HTTP.
    """

    status = "invalid"

    def __init__(self, problems: list[Problem] | Problem | str, code: str | None = None,
                 field: str | None = None) -> None:
        if isinstance(problems, str):
            problems = [Problem(code or "INVALID", problems, field)]
        elif isinstance(problems, Problem):
            problems = [problems]
        if not problems:
            raise ValueError("SibError needs at least one problem")
        self.problems: list[Problem] = list(problems)
        super().__init__("; ".join(str(p) for p in self.problems))

    @property
    def code(self) -> str:
        """The code of the first problem: what a caller usually matches on."""
        return self.problems[0].code

    @property
    def codes(self) -> list[str]:
        """Every problem's code, in the order found."""
        return [p.code for p in self.problems]


class NotFound(SibError):
    """The object asked for does not exist (or the caller may not know that it does)."""

    status = "not_found"


class Conflict(SibError):
    """The request contradicts the recorded state (idempotency key reused, already resolved)."""

    status = "conflict"


class Forbidden(SibError):
    """The caller's role does not allow this."""

    status = "forbidden"


@dataclass
class Problems:
    """A collector used by validators: add problems, then raise them all together."""

    items: list[Problem] = field(default_factory=list)

    def add(self, code: str, message: str, field: str | None = None,
            source: str | None = None) -> None:
        self.items.append(Problem(code, message, field, source))

    def __bool__(self) -> bool:
        return bool(self.items)

    def raise_if_any(self, error_type: type[SibError] = SibError) -> None:
        if self.items:
            raise error_type(self.items)
