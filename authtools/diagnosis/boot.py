"""Set Django up one step at a time, turning each failure into data instead of a crash.

``django.setup()`` raises at the first problem, and many user-model problems (a typo in
AUTH_USER_MODEL, a missing model, an import cycle) make it raise before any management command
can run. ``boot()`` runs the same steps (settings, app configs, models, ready) and records where
it stopped, so that the probes can still look at everything that did load.
"""

from __future__ import annotations

import os
import traceback
from dataclasses import dataclass, field
from typing import Literal

Phase = Literal["settings", "apps", "models", "ready"]
PHASES: tuple[Phase, ...] = ("settings", "apps", "models", "ready")


@dataclass
class BootFailure:
    phase: Phase
    error: BaseException
    traceback: str

    @property
    def summary(self) -> str:
        if isinstance(self.error, SystemExit):
            return (
                f"SystemExit({self.error.code!r}): the module calls sys.exit() or raises "
                "SystemExit while it is imported"
            )
        return f"{type(self.error).__name__}: {self.error}"


@dataclass
class BootState:
    """How far Django got. ``reached`` is the last phase that completed, or None."""

    reached: Phase | None = None
    failures: list[BootFailure] = field(default_factory=list)

    def ok(self, phase: Phase) -> bool:
        return self.reached is not None and PHASES.index(self.reached) >= PHASES.index(phase)

    @property
    def complete(self) -> bool:
        return self.reached == "ready"

    @property
    def failure(self) -> BootFailure | None:
        return self.failures[0] if self.failures else None


def booted_state() -> BootState:
    """The state of a process where Django is already set up (inside a management command)."""
    from django.apps import apps

    if apps.ready:
        return BootState(reached="ready")
    if apps.models_ready:
        return BootState(reached="models")
    if apps.apps_ready:
        return BootState(reached="apps")
    return BootState(reached="settings")


def boot(settings_module: str | None = None) -> BootState:
    """Set Django up step by step; never raises for a problem of the project being diagnosed."""
    if settings_module:
        os.environ["DJANGO_SETTINGS_MODULE"] = settings_module
    state = BootState()

    from django.conf import settings

    try:
        settings.INSTALLED_APPS  # noqa: B018 - forces the settings module to be imported
    except (Exception, SystemExit) as exc:  # anything the user's settings module raises
        state.failures.append(BootFailure("settings", exc, traceback.format_exc()))
        return state
    state.reached = "settings"
    unusable = _unusable_databases()
    if unusable is not None:
        state.failures.append(unusable)
        return state

    from django.apps import apps
    from django.urls import set_script_prefix
    from django.utils.log import configure_logging

    set_script_prefix("/")
    try:
        configure_logging(settings.LOGGING_CONFIG, settings.LOGGING)  # django.setup() does too
        apps.populate(settings.INSTALLED_APPS)
    except (Exception, SystemExit) as exc:  # the project's apps, models or ready() failed
        phase: Phase = (
            "apps" if not apps.apps_ready else "models" if not apps.models_ready else "ready"
        )
        state.failures.append(BootFailure(phase, exc, traceback.format_exc()))
        state.reached = PHASES[PHASES.index(phase) - 1]
        return state
    state.reached = "ready"
    return state


def _unusable_databases() -> BootFailure | None:
    """DATABASES that Django cannot even read (None, a list, no 'default', an entry that is not
    a dict) or whose 'default' backend does not load (an ENGINE naming no backend, a driver that
    is not installed) make django.setup() fail when the first model class is built: say so up
    front, naming the setting."""
    from django.core.exceptions import ImproperlyConfigured
    from django.db import DEFAULT_DB_ALIAS, connections

    from authtools.db.connection import backend_problem

    try:
        tuple(connections)
        connections[DEFAULT_DB_ALIAS]  # loads the backend, as the first model will; no connect
    except Exception as exc:  # Django's own reading of the setting
        if _missing_driver(exc):  # Django's own words, for the driver finding (E505)
            return BootFailure("apps", exc, traceback.format_exc())
        problem = backend_problem(DEFAULT_DB_ALIAS) or f"{type(exc).__name__}: {exc}"
        return BootFailure("apps", ImproperlyConfigured(problem), traceback.format_exc())
    return None


def _missing_driver(error: BaseException | None) -> bool:
    """Did the default database's backend load but fail on an import (its driver)? An ENGINE
    that names no backend fails on an import too, but that is the setting's fault."""
    import importlib.util

    from django.conf import settings

    config = settings.DATABASES.get("default") if isinstance(settings.DATABASES, dict) else None
    engine = config.get("ENGINE") if isinstance(config, dict) else None
    try:
        backend = isinstance(engine, str) and importlib.util.find_spec(f"{engine}.base") is not None
    except (ImportError, ValueError):
        backend = False
    if not backend:
        return False
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, ImportError):
            return True
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return False
