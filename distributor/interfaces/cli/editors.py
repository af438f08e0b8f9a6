"""Commands of the editor dashboard: ``distributor editors ...`` and the digest picks
``distributor digest add|remove ARTICLE --channel NAME``.

Registered by :mod:`distributor.cli`; like :mod:`distributor.cli_subscribers` this module
reaches the CLI's ``State`` through ``click.pass_obj`` and imports the CLI lazily.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from distributor.interfaces.cli.common import UserError, digest_channel


def _read_password(password_stdin: bool, *, confirm: bool = True) -> str:
    if password_stdin:
        line = sys.stdin.readline()
        password = line[:-1] if line.endswith("\n") else line
        password = password[:-1] if password.endswith("\r") else password
    else:
        if not sys.stdin.isatty():
            raise UserError("no terminal to ask for a password on; pipe it in with "
                              "--password-stdin")
        password = click.prompt("Password", hide_input=True, confirmation_prompt=confirm)
    from distributor.interfaces.web.auth import PasswordProblem, check_new_password

    try:
        check_new_password(password)
    except PasswordProblem as exc:
        raise UserError(str(exc)) from None
    return password


# --------------------------------------------------------------------------- editors


@click.group()
def editors() -> None:
    """Editor accounts for the dashboard of `distributor serve`."""


@editors.command("add")
@click.argument("username")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from the first line of stdin (for scripts).")
@click.option("--update", is_flag=True, help="The account exists: set a new password.")
@click.pass_obj
def editors_add(state: Any, username: str, password_stdin: bool, update: bool) -> None:
    """Create the editor account USERNAME (asks for a password, or reads it from stdin).

    Only an argon2 hash of the password is stored. With --update, an existing account gets
    the new password and every browser logged in to it is logged out.
    """
    from distributor.interfaces.web.auth import EditorError, add_editor, normalize_username

    try:
        name = normalize_username(username)
    except EditorError as exc:
        raise UserError(str(exc)) from None
    password = _read_password(password_stdin)
    rt = state.runtime(sends=False)
    try:
        with rt.store.session() as session:
            try:
                created = add_editor(session, name, password, update=update)
            except EditorError as exc:
                raise UserError(str(exc)) from None
    finally:
        rt.store.dispose()
    click.echo(f"editor {name}: {'created' if created else 'password changed'}")


@editors.command("list")
@click.pass_obj
def editors_list(state: Any) -> None:
    """List editor accounts with their last login."""
    from sqlalchemy import select

    from distributor.interfaces.cli.common import _table
    from distributor.store.models import Editor

    rt = state.runtime(sends=False)
    try:
        with rt.store.session() as session:
            rows = [[e.username, e.created_at.strftime("%Y-%m-%d %H:%M"),
                     e.last_login_at.strftime("%Y-%m-%d %H:%M") if e.last_login_at else "never"]
                    for e in session.scalars(select(Editor).order_by(Editor.username))]
    finally:
        rt.store.dispose()
    if not rows:
        click.echo("no editors; add one with `distributor editors add NAME`")
        return
    click.echo(_table(["USERNAME", "CREATED (UTC)", "LAST LOGIN (UTC)"], rows))


@editors.command("remove")
@click.argument("username")
@click.pass_obj
def editors_remove(state: Any, username: str) -> None:
    """Delete the editor account USERNAME (its browsers are logged out at once)."""
    from distributor.interfaces.web.auth import remove_editor

    rt = state.runtime(sends=False)
    try:
        with rt.store.session() as session:
            removed = remove_editor(session, username)
    finally:
        rt.store.dispose()
    if not removed:
        raise UserError(f"no editor {username}; `distributor editors list` shows them")
    click.echo(f"editor {username.strip().lower()}: removed")


# --------------------------------------------------------------------------- digest picks


def _pick(state: Any, article: str, channel_name: str, include: bool | None) -> None:
    from distributor.interfaces.words import pick_text
    from distributor.services import deliveries as desk
    from distributor.services.articles import resolve_article

    rt = state.runtime(dry_run=True)
    try:
        channel = digest_channel(rt, channel_name)
        art = resolve_article(rt, article, store=True)  # ArticleNotFound: one clear line
        assert art.id is not None
        if include is None:
            outcome = desk.unpick(rt, channel.name, art.id)
        else:
            outcome = desk.pick(rt, channel.name, art.id, include=include, by="cli")
    finally:
        rt.store.dispose()
    click.echo(pick_text(outcome))


@click.command("add")
@click.argument("article")
@click.option("--channel", "channel_name", required=True, metavar="NAME",
              help="The digest channel.")
@click.pass_obj
def digest_add(state: Any, article: str, channel_name: str) -> None:
    """Put ARTICLE into the channel's next digest, even when it is older than the digest's
    period (once: after a digest holding it is sent, it is not added again)."""
    _pick(state, article, channel_name, True)


@click.command("remove")
@click.argument("article")
@click.option("--channel", "channel_name", required=True, metavar="NAME",
              help="The digest channel.")
@click.option("--undo", is_flag=True,
              help="Forget an earlier add or remove: the article follows the usual rule.")
@click.pass_obj
def digest_remove(state: Any, article: str, channel_name: str, undo: bool) -> None:
    """Leave ARTICLE out of the channel's digests (or, with --undo, forget the pick)."""
    _pick(state, article, channel_name, None if undo else False)
