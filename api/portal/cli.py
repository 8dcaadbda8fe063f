"""``sib-portal``: an administrator's commands for the portal (issue 15).

``sib-portal link USER`` prints a one-time sign-in link for an existing user (``sib user
add``): a token valid a day, used up by its first sign-in. ``sib-portal sessions USER`` lists
the user's tokens (portal sessions among them); ``sib token revoke`` ends one."""

from __future__ import annotations

import typer

from api import cli_audit
from api.portal.auth import link_token
from api.settings import get_settings

app = typer.Typer(help="The web portal: one-time sign-in links.", no_args_is_help=True)


@app.callback()
def main() -> None:
    """The web portal's administration."""


@app.command("link")
def link(username: str = typer.Argument(..., help="an existing user (sib user add)"),
         base_url: str = typer.Option("", "--base-url",
                                      help="the portal's address (default: http://HOST:PORT "
                                           "of the settings)")) -> None:
    """Print a one-time sign-in link for USERNAME (valid a day; the first sign-in uses it up).
    Send it to the person only: whoever opens it first signs in as them."""
    settings = get_settings()
    token = cli_audit.run(lambda session: link_token(session, username))
    base = base_url.rstrip("/") or f"http://{settings.host}:{settings.port}"
    typer.echo(f"{base}/portal/signin/link/{token}")


if __name__ == "__main__":  # pragma: no cover
    app()
