"""Probe: the AUTH_USER_MODEL setting itself, checked against the installed apps and models.

Most of these mistakes make ``django.setup()`` raise (auth's ready() calls get_user_model(),
admin's LogEntry builds a ForeignKey to the setting), so the probe needs only the settings and
uses the app registry as far as it loaded. Django matches the model name case-insensitively
('accounts.user' is valid) but the app label exactly; the label is ``AppConfig.label``, which
is not always the module path.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from typing import Any

from authtools.diagnosis import catalog, lookup
from authtools.diagnosis.context import Context
from authtools.diagnosis.probes import model as model_probe
from authtools.diagnosis.report import FileLocation, Finding

REQUIRES = "settings"
USES_DB = False

SETTING = "AUTH_USER_MODEL"


def run(ctx: Context) -> Iterator[Finding]:
    if not ctx.auth_user_model_is_set:
        yield from _unset(ctx)
        return
    value = ctx.auth_user_model_raw
    where = ctx.setting_location(SETTING)
    if not isinstance(value, str):
        yield _not_a_string(ctx, value, where)
        return
    stripped = "".join(value.split())  # whitespace anywhere: 'accounts. User' too
    if stripped != value:
        yield catalog.finding(
            "authtools.E003",
            f"AUTH_USER_MODEL = {value!r} has stray whitespace: Django looks the value up "
            f"as it is and finds no such model.",
            f"Write `{SETTING} = {stripped!r}`.",
            location=where,
        )
        if ctx.boot.ok("apps") and _resolves(ctx, stripped):
            return  # the whitespace is the whole problem
    parts = stripped.split(".")
    if len(parts) != 2 or not all(parts):
        yield _malformed(ctx, stripped, where)
        return
    if not ctx.boot.ok("apps"):
        return  # INSTALLED_APPS did not load: nothing to check the value against
    yield from _resolve(ctx, parts[0], parts[1], where)


# --- not set --------------------------------------------------------------------------------


def _unset(ctx: Context) -> Iterator[Finding]:
    """A concrete user model of the project is installed while auth.User is still the one."""
    if not ctx.boot.ok("models"):
        return
    custom = [
        cls
        for cls in lookup.registered_user_models(ctx)
        if not cls._meta.swappable and cls._meta.label != "auth.User"
    ]
    if not custom:
        return
    labels = [c._meta.label for c in custom]
    settings_file = _settings_file_for_all(ctx)
    first = custom[0]._meta.label
    hint = f"Add `{SETTING} = {first!r}` to {settings_file}"
    if len(custom) > 1:
        hint += f" (or another of {', '.join(map(repr, labels[1:]))})"
    hint += (
        " before the first migrate; if the database was built while the setting was unset "
        "(auth_user holds the users), add it, then move them with "
        "`python manage.py swap_user_model --from auth.User`."
    )
    one = len(custom) == 1
    yield catalog.finding(
        "authtools.E001",
        f"{' and '.join(labels)} {'is a' if one else 'are'} concrete user "
        f"model{'' if one else 's'} but AUTH_USER_MODEL is not set, so Django uses auth.User: "
        f"logins, createsuperuser and the admin use auth_user, not "
        f"{custom[0]._meta.db_table!r}{_clashes(custom)}.",
        hint,
        location=model_probe._class_location(ctx, custom[0]),
    )


def _settings_file_for_all(ctx: Context) -> str:
    """The settings file every environment imports: following the star imports from
    DJANGO_SETTINGS_MODULE's module, the one that sets INSTALLED_APPS (config/settings/base.py
    rather than local.py)."""
    where = ctx.setting_location("INSTALLED_APPS")
    if where is not None:
        return where.file
    return ctx.display_path(ctx.settings_file) if ctx.settings_file else "settings"


def _clashes(custom: list[Any]) -> str:
    """Django's fields.E304 clashes, for the models that really have them: a groups or
    user_permissions field whose reverse accessor is auth.User's (PermissionsMixin's)."""
    clashing = [
        c._meta.label
        for c in custom
        if any(
            f.name in ("groups", "user_permissions") and f.remote_field.related_name == "user_set"
            for f in c._meta.local_many_to_many
        )
    ]
    if not clashing:
        return ""
    return (
        f"; {' and '.join(clashing)} and auth.User both define the groups and user_permissions "
        "reverse accessors (Django's fields.E304 clashes)"
    )


# --- malformed ------------------------------------------------------------------------------


def _not_a_string(ctx: Context, value: Any, where: FileLocation | None) -> Finding:
    guess = None
    if (
        isinstance(value, list | tuple)
        and len(value) == 2
        and all(isinstance(v, str) for v in value)
    ):
        guess = _suggest(ctx, ".".join(v.strip() for v in value))
    if guess is None:
        guess = _only_custom_user_model(ctx)
    return catalog.finding(
        "authtools.E002",
        f"AUTH_USER_MODEL is {value!r} ({type(value).__name__}), not a string "
        f"'app_label.ModelName'; admin's LogEntry and every ForeignKey to it fail.",
        _write(guess),
        location=where,
    )


def _malformed(ctx: Context, value: str, where: FileLocation | None) -> Finding:
    guess = _suggest(ctx, value) if ctx.boot.ok("apps") else None
    why = (
        "it has no dot"
        if "." not in value
        else "a module path is not an app label"
        if value.count(".") > 1
        else "a part is empty"
    )
    return catalog.finding(
        "authtools.E002",
        f"AUTH_USER_MODEL = {value!r} is not of the form 'app_label.ModelName' ({why}).",
        _write(guess),
        location=where,
    )


def _write(guess: str | None) -> str:
    if guess:
        return f"Write `{SETTING} = {guess!r}`."
    return (
        f"Write `{SETTING} = 'app_label.ModelName'` with the label of the app that defines "
        f"your user model (AppConfig.label, usually the app's last module name) and the "
        f"model's class name."
    )


# --- label and model ------------------------------------------------------------------------


def _resolve(ctx: Context, label: str, name: str, where: FileLocation | None) -> Iterator[Finding]:
    from django.apps import apps

    app_config = apps.app_configs.get(label)
    value = f"{label}.{name}"
    if app_config is None:
        yield _unknown_label(ctx, value, label, where)
        return
    if lookup.registered_model(ctx, label, name) is not None:
        return
    if _class_exists(app_config, name):
        return  # the class exists but is not registered: the model probe says why
    guess = _model_in_app(ctx, app_config, name)
    elsewhere = _same_name_elsewhere(ctx, name, exclude=label)
    known = lookup.model_names(ctx, app_config)
    migrated = migrated_models(label)
    if guess and migrated and name.lower() in migrated and guess.lower() not in migrated:
        yield _renamed_in_code(ctx, label, migrated[name.lower()], guess, where)
        return
    message = f"AUTH_USER_MODEL = {value!r} names model {name!r}, which app {label!r} does not have"
    message += f" (its models: {', '.join(known)})." if known else " (it has no models)."
    if guess and migrated and guess.lower() not in migrated:
        guess = None  # a model the migrations never created cannot hold the users
    if guess:
        hint = _write(f"{label}.{guess}")
    elif elsewhere:
        hint = _write(elsewhere)
    else:
        hint = (
            f"Define the user model in {label!r}'s models module, or write "
            f"`{SETTING} = '<app_label>.<ModelName>'` for the app that has it."
        )
    yield catalog.finding("authtools.E005", message, hint, location=where)


def migrated_models(label: str) -> dict[str, str]:
    """{lower name: ObjectName} of the models LABEL's migration files create (the state
    makemigrations compares the code with); {} when the app has none or they do not load."""
    from django.db.migrations.loader import MigrationLoader

    try:
        loader = MigrationLoader(None, ignore_no_migrations=True)
        if label not in loader.migrated_apps:
            return {}
        state = loader.project_state(nodes=None, at_end=True)
    except Exception:  # a migration that does not import: the migrations probe says so
        return {}
    return {name: m.name for (app, name), m in state.models.items() if app == label}


def _renamed_in_code(
    ctx: Context, label: str, old: str, new: str, where: FileLocation | None
) -> Finding:
    """The class was renamed in code while the migrations and the setting keep the old name."""
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(None, ignore_no_migrations=True)
    leaf = next(iter(loader.graph.leaf_nodes(label)), (label, "0001_initial"))
    return catalog.finding(
        "authtools.E005",
        f"AUTH_USER_MODEL = '{label}.{old}' names model {old!r}, which the migrations of "
        f"{label!r} create and the code no longer has: the class was renamed to {new!r} in "
        "code only.",
        f"Do not only change the setting to '{label}.{new}': makemigrations would then delete "
        f"{label}.{old}, whose table holds the users, and create an empty {label}.{new}. "
        f"Either rename the class back to {old!r}, or change both together: a migration of "
        f"{label!r} after {leaf[1]!r} with `migrations.RenameModel({old!r}, {new!r})` and "
        f"`{SETTING} = '{label}.{new}'` in the same change.",
        location=where,
    )


def _unknown_label(ctx: Context, value: str, label: str, where: FileLocation | None) -> Finding:
    from django.apps import apps

    guess = _suggest(ctx, value)
    by_name = [c for c in apps.app_configs.values() if c.name == label]
    message = f"AUTH_USER_MODEL = {value!r} names app label {label!r}, which is not installed"
    if by_name and by_name[0].label != label:
        message += (
            f": {label!r} is the module path of the app whose label is "
            f"{by_name[0].label!r} (AppConfig.label), and the setting takes the label."
        )
    else:
        message += f" (installed labels: {', '.join(sorted(apps.app_configs))})."
    return catalog.finding("authtools.E004", message, _write(guess), location=where)


def _resolves(ctx: Context, value: str) -> bool:
    from django.apps import apps

    label, _, name = value.partition(".")
    return label in apps.app_configs and lookup.registered_model(ctx, label, name) is not None


def _class_exists(app_config: Any, name: str) -> bool:
    """A class NAME exists in the app (abstract, proxy that failed, or in another module)."""
    module = getattr(app_config, "models_module", None)
    if module is not None and model_probe._module_class(module, name) is not None:
        return True
    path = lookup.models_module_file(app_config)
    if path is not None and lookup.find_class_node(path, name) is not None:
        return True
    return lookup.find_in_app(app_config, name) is not None


# --- suggestions ----------------------------------------------------------------------------


def _suggest(ctx: Context, value: str) -> str | None:
    """The 'app_label.ModelName' the user most likely meant by VALUE, or None."""
    parts = [p for p in value.replace(" ", "").split(".") if p and p != "models"]
    if not parts:
        return _only_custom_user_model(ctx)
    if len(parts) == 1:
        app_config = _find_app(parts[0])
        if app_config is not None:
            users = _user_models_in(ctx, app_config)
            return f"{app_config.label}.{users[0]}" if len(users) == 1 else None
        return _same_name_elsewhere(ctx, parts[0], exclude=None)
    module, name = ".".join(parts[:-1]), parts[-1]
    app_config = _find_app(module)
    if app_config is None:
        return _same_name_elsewhere(ctx, name, exclude=None)
    guess = _model_in_app(ctx, app_config, name)
    return f"{app_config.label}.{guess}" if guess else None


def _find_app(module: str) -> Any:
    """The AppConfig MODULE most likely means: label, module path, a path's tail, a typo."""
    from django.apps import apps

    configs = list(apps.app_configs.values())
    tail = module.rsplit(".", 1)[-1]
    for match in (
        lambda c: c.label == module,
        lambda c: c.name == module,
        lambda c: c.name.endswith("." + module) or module.endswith("." + c.name),
        lambda c: c.label == tail or c.name.rsplit(".", 1)[-1] == tail,
    ):
        found = [c for c in configs if match(c)]
        if len(found) == 1:
            return found[0]
    close = difflib.get_close_matches(module, [c.label for c in configs], n=1, cutoff=0.75)
    if not close:
        close = difflib.get_close_matches(tail, [c.label for c in configs], n=1, cutoff=0.75)
    return apps.app_configs[close[0]] if close else None


def _model_in_app(ctx: Context, app_config: Any, name: str) -> str | None:
    """The ObjectName in APP_CONFIG that NAME means: same name, a close one, its one user model."""
    names = lookup.model_names(ctx, app_config)
    by_lower = {n.lower(): n for n in names}
    if name.lower() in by_lower:
        return by_lower[name.lower()]
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=0.6)
    if close:
        return by_lower[close[0]]
    users = _user_models_in(ctx, app_config)
    return users[0] if len(users) == 1 else None


def _user_models_in(ctx: Context, app_config: Any) -> list[str]:
    registered = [
        c._meta.object_name
        for c in lookup.registered_user_models(ctx)
        if c._meta.app_label == app_config.label
    ]
    if registered or ctx.boot.ok("models"):
        return registered
    return lookup.static_user_classes(app_config)


def _same_name_elsewhere(ctx: Context, name: str, exclude: str | None) -> str | None:
    """'label.Name' of the one user model named NAME (case-insensitive) in another app."""
    found = [
        c._meta.label
        for c in lookup.registered_user_models(ctx)
        if c._meta.model_name == name.lower() and c._meta.app_label != exclude
    ]
    return found[0] if len(found) == 1 else None


def _only_custom_user_model(ctx: Context) -> str | None:
    """The project's one custom user model, if there is exactly one."""
    from django.apps import apps

    found = [c._meta.label for c in lookup.registered_user_models(ctx) if not c._meta.swappable]
    if not found and ctx.boot.ok("apps"):
        for app_config in apps.app_configs.values():
            if ctx.is_project_file(app_config.path):
                found += [f"{app_config.label}.{n}" for n in lookup.static_user_classes(app_config)]
    return found[0] if len(found) == 1 else None
