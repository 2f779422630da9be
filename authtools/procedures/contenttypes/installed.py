"""What the project says: the installed models, their default permissions, swapped models."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_ACTIONS = ("add", "change", "delete", "view")


@dataclass(frozen=True)
class ExpectedModel:
    label: str  # 'app_label.model', lower case
    permissions: tuple[tuple[str, str], ...]  # (codename, name)
    actions: tuple[str, ...]  # default_permissions
    verbose_name: str

    @property
    def app_label(self) -> str:
        return self.label.split(".", 1)[0]

    @property
    def model(self) -> str:
        return self.label.split(".", 1)[1]


def split_label(label: str) -> tuple[str, str]:
    app_label, _, model = label.partition(".")
    return app_label, model


def auth_installed() -> bool:
    from django.apps import apps

    return apps.is_installed("django.contrib.auth")


def permission_table() -> str:
    from django.contrib.auth.models import Permission

    return str(Permission._meta.db_table)


def installed_models(using: str) -> tuple[dict[str, ExpectedModel], set[str]]:
    """(models whose content type belongs in USING, every installed model's label).

    The first is what post_migrate creates: every model of every app (proxies included,
    swapped-out and auto-created ones excluded) that the routers allow on USING.
    """
    from django.apps import apps
    from django.db import router

    expected: dict[str, ExpectedModel] = {}
    known: set[str] = set()
    for app_config in apps.get_app_configs():
        for model in app_config.get_models():
            opts = model._meta
            known.add(opts.label_lower)
            if not router.allow_migrate_model(using, model):
                continue
            actions = tuple(opts.default_permissions)
            perms = [
                (f"{a}_{opts.model_name}", f"Can {a} {opts.verbose_name_raw}") for a in actions
            ]
            perms.extend((str(c), str(n)) for c, n in opts.permissions)
            expected[opts.label_lower] = ExpectedModel(
                opts.label_lower, tuple(perms), actions, str(opts.verbose_name_raw)
            )
    return expected, known


def swapped_models() -> dict[str, str]:
    """{'auth.user': 'accounts.user'} for every installed model that a setting swaps out."""
    from django.apps import apps

    out: dict[str, str] = {}
    for model in apps.get_models(include_swapped=True):
        target = model._meta.swapped
        if target:
            out[model._meta.label_lower] = str(target).lower()
    return out


def model_actions(label: str) -> tuple[str, ...]:
    from django.apps import apps

    try:
        model = apps.get_model(label)
    except (LookupError, ValueError):
        return DEFAULT_ACTIONS
    return tuple(model._meta.default_permissions)


def model_verbose_name(label: str) -> str | None:
    from django.apps import apps

    try:
        return str(apps.get_model(label)._meta.verbose_name_raw)
    except (LookupError, ValueError):
        return None


def clear_cache() -> None:
    from django.contrib.contenttypes.models import ContentType

    ContentType.objects.clear_cache()
