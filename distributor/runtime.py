"""The runtime: configuration, store, templates and one adapter per channel, built once.

Every command and job works through a :class:`Runtime`; under ``--dry-run`` each channel's
adapter is wrapped by the outbox, so what would be sent is written to files instead. Each
adapter is started with :meth:`~distributor.plugin.Channel.setup` and its
:class:`~distributor.plugin.ChannelEnv` (its state in the store, the scopes it shares).
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from distributor.channels.outbox import OutboxAdapter
from distributor.config import DEFAULT_CONFIG, ChannelConfig, Config
from distributor.plugin import Adapter, ChannelEnv, ChannelLog
from distributor.registry import get_adapter_class
from distributor.render.campaign import campaign_article
from distributor.render.context import RenderContext
from distributor.render.problems import TemplateProblem, template_problem
from distributor.store import Store, open_store
from distributor.store.channel_kv import StoredState, shared_state


def with_campaign_links(adapter: Adapter, config: Config | None = None) -> None:
    """Every article the adapter renders (posts, digests, previews) has its links as the
    channel posts them: tracking parameters stripped, the channel's UTM tags added
    (``strip_params``, ``utm``; :mod:`distributor.render.campaign`). A user's template that
    cannot be used is one :class:`TemplateProblem` (:func:`explained`)."""
    render, render_digest = adapter.render, getattr(adapter, "render_digest", None)

    def tagged(article: Any, ctx: Any) -> Any:
        try:
            return render(campaign_article(article, ctx), ctx)
        except Exception as exc:
            problem = explained(exc, ctx, config)
            if problem is None:
                raise
            raise problem from None

    def tagged_digest(articles: Any, ctx: Any) -> Any:
        assert render_digest is not None
        try:
            return render_digest([campaign_article(a, ctx) for a in articles], ctx)
        except Exception as exc:
            problem = explained(exc, ctx, config)
            if problem is None:
                raise
            raise problem from None

    setattr(adapter, "render", tagged)  # noqa: B010  (the instance's, not the class's)
    if callable(render_digest):
        setattr(adapter, "render_digest", tagged_digest)  # noqa: B010


def explained(exc: Exception, ctx: Any, config: Config | None) -> TemplateProblem | None:
    """``exc``, raised while rendering for ``ctx``'s channel, as the user's template mistake
    it is (with the channel, and the line of its ``template:`` when that names the template
    that is not there), else None (a bug: its traceback is kept)."""
    from distributor.render.templates import Templates

    templates = getattr(ctx, "templates", None)
    channel = getattr(ctx, "channel", None)
    if isinstance(exc, TemplateProblem):
        problem: TemplateProblem | None = exc
    elif isinstance(templates, Templates):
        problem = template_problem(exc, templates)
    else:
        return None
    if problem is None or channel is None:
        return problem
    problem.channel = problem.channel or channel.name
    named = getattr(channel, "template", None)
    if problem.where is None and isinstance(named, str) and config is not None and \
            problem.template in {named.strip().replace("{kind}", k) for k in ("", "article",
                                                                               "digest")}:
        index = next((i for i, c in enumerate(config.channels) if c.name == channel.name), 0)
        problem.where = config.where("channels", index, "template")
    if problem.where is None:  # a template nobody named went missing: not the user's doing
        return None
    return problem


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def owner_gone(owner: str | None) -> bool:
    """True when ``owner`` (a :attr:`Runtime.owner`: host:pid:...) is a process of this
    machine that has ended. A process on another machine is never judged from here."""
    if not owner:
        return True
    host, _, rest = owner.partition(":")
    pid = rest.split(":", 1)[0]
    return host == socket.gethostname() and pid.isdigit() and not _pid_alive(int(pid))


@dataclass
class Runtime:
    config: Config
    store: Store
    dry_run: bool = False
    adapters: dict[str, Adapter] = field(default_factory=dict)
    owner: str = field(
        default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    )
    _templates: object | None = None

    @classmethod
    def open(cls, config: Config, *, dry_run: bool = False, store: Store | None = None,
             store_wait: str | None = None) -> Runtime:
        """``store_wait``: a long-running command starts while the database does not answer
        (what it does meanwhile, for the warning line; :func:`~distributor.store.open_store`)."""
        store = store or open_store(config.database, wait=store_wait,
                                    where=config.where("database"))
        rt = cls(config=config, store=store, dry_run=dry_run)
        for channel in config.channels:
            rt.adapters[channel.name] = rt._make_adapter(channel)
        for adapter in rt.adapters.values():
            bind = getattr(adapter, "bind", None)  # adapters that send with the store (email)
            if callable(bind):
                bind(rt)
        return rt

    def _make_adapter(self, channel: ChannelConfig) -> Adapter:
        adapter = get_adapter_class(channel.type)(channel)
        adapter.site = self.config.site
        adapter.setup(self.env(channel.name))
        with_campaign_links(adapter, self.config)
        if self.dry_run:
            return OutboxAdapter(channel, wraps=adapter, folder=self.config.outbox)
        return adapter

    def env(self, channel: str) -> ChannelEnv:
        """What a channel is given at start (:meth:`~distributor.plugin.Channel.setup`)."""
        return ChannelEnv(channel=channel, state=StoredState(self.store, channel),
                          log=ChannelLog(channel), shared=lambda s: shared_state(self.store, s),
                          dry_run=self.dry_run,
                          distributed=self.config.execution == "distributed", owner=self.owner,
                          config_file=str(self.config.path or DEFAULT_CONFIG))

    @property
    def templates(self) -> object:
        if self._templates is None:
            from distributor.render import Templates

            try:
                self._templates = Templates(self.config.templates)
            except FileNotFoundError:
                raise TemplateProblem(f"the folder {self.config.templates} does not exist",
                                      where=self.config.where("templates")) from None
        return self._templates

    def channels(self) -> list[ChannelConfig]:
        return [c for c in self.config.channels if c.enabled]

    def adapter(self, name: str) -> Adapter:
        if name not in self.adapters:
            self.config.channel(name)  # raises KeyError with the known names
        return self.adapters[name]

    def context(self, channel: ChannelConfig, now: datetime | None = None) -> RenderContext:
        try:
            templates = self.templates
        except TemplateProblem as problem:  # the templates folder
            problem.channel = channel.name
            raise
        return RenderContext(site=self.config.site, channel=channel, web=self.config.web,
                             templates=templates, now=now)

    def channels_of_type(self, type_name: str) -> list[ChannelConfig]:
        return [c for c in self.channels() if c.type == type_name]

    async def close(self) -> None:
        for adapter in self.adapters.values():
            await adapter.close()
        self.store.dispose()
