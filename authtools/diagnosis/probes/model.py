"""Probe: the model AUTH_USER_MODEL names, and the contract Django expects of a user model.

Django registers a model only when its class is created, which happens when the app's models
module (or something it imports) defines it. So this probe first finds the class: in the
registry (``apps.all_models``, as far as it loaded), then among the models module's attributes
(abstract models are never registered), then with ast in the models module and the app's folder
(a class in ``accounts/users.py`` that ``accounts/models.py`` never imports). Then it checks the
contract of ``django.contrib.auth`` (AbstractBaseUser, USERNAME_FIELD, REQUIRED_FIELDS, a
BaseUserManager, is_anonymous/is_authenticated properties) and says where each problem is.

It runs on every ``manage.py check``: the healthy path reads the registry only; the scan of the
user app's folder happens only when the class is missing from the registry.
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from authtools.diagnosis import catalog
from authtools.diagnosis.context import Context, parse_file
from authtools.diagnosis.lookup import (
    ClassSite,
    app_config_for,
    find_class_node,
    find_in_app,
    imports_name,
    is_user_class,
    models_module_file,
    parse_setting,
    registered_model,
    relative_import,
)
from authtools.diagnosis.report import FileLocation, Finding

REQUIRES = "apps"
USES_DB = False

DEFAULT_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
MANAGER_METHODS = ("create_user", "create_superuser", "get_by_natural_key")


def run(ctx: Context) -> Iterator[Finding]:
    target = parse_setting(ctx.auth_user_model_raw)
    if target is None:
        return  # not of the form 'app_label.ModelName': the setting probe says so
    label, name = target
    app_config = app_config_for(label)
    if app_config is None:
        return  # the label is not installed: the setting probe says so
    cls = registered_model(ctx, label, name)
    if cls is not None:
        if ctx.boot.ok("models"):
            yield from check_contract(ctx, cls)
        return
    yield from _unregistered(ctx, app_config, name)


# --- a class that is not registered -----------------------------------------------------------


def _unregistered(ctx: Context, app_config: Any, name: str) -> Iterator[Finding]:
    """The class is not in the registry: abstract, a proxy that failed, or in another module."""
    label = app_config.label
    module = getattr(app_config, "models_module", None)
    cls = _module_class(module, name)
    if cls is not None and getattr(getattr(cls, "_meta", None), "abstract", False):
        yield _abstract(ctx, label, cls.__name__, _meta_location(ctx, cls, "abstract"))
        return
    models_file = models_module_file(app_config)
    node = find_class_node(models_file, name) if models_file else None
    if node is not None and models_file is not None:
        meta = _static_meta(node)
        for key in ("abstract", "proxy"):
            if meta.get(key, (False, 0))[0] is True:
                where = FileLocation(ctx.display_path(models_file), meta[key][1])
                yield (
                    _abstract(ctx, label, node.name, where)
                    if key == "abstract"
                    else _proxy(label, node.name, where, concrete=None)
                )
                break
        return
    if models_file is not None and imports_name(models_file, name):
        return  # imported, so a failed import explains it: the imports probe says so
    site = find_in_app(app_config, name)
    if site is None:
        return  # no such class in the app: the setting probe suggests the right name
    yield _elsewhere(ctx, app_config, site, models_file)


def _module_class(module: Any, name: str) -> Any:
    if module is None:
        return None
    for attr, value in vars(module).items():
        if attr.lower() == name.lower() and isinstance(value, type):
            return value
    return None


def _static_meta(node: ast.ClassDef) -> dict[str, tuple[Any, int]]:
    """Constant assignments in the class's Meta and their lines, e.g. {'abstract': (True, 9)}."""
    meta: dict[str, tuple[Any, int]] = {}
    for item in node.body:
        if isinstance(item, ast.ClassDef) and item.name == "Meta":
            for stmt in item.body:
                if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Constant):
                    for target in stmt.targets:
                        if isinstance(target, ast.Name):
                            meta[target.id] = (stmt.value.value, stmt.lineno)
    return meta


def _elsewhere(ctx: Context, app_config: Any, site: ClassSite, models_file: Path | None) -> Finding:
    label = app_config.label
    where = FileLocation(ctx.display_path(site.path), site.line)
    if models_file is None:
        target = Path(app_config.path) / "models.py"
        package = app_config.name
    else:
        target = models_file
        package = app_config.name + (".models" if models_file.name == "__init__.py" else "")
    line = relative_import(package, site.module, site.name)
    return catalog.finding(
        "authtools.E101",
        f"The user model {label}.{site.name} is defined in {site.module!r} "
        f"({where}), which the app's models module never imports, so Django never "
        f"registers it.",
        f"Add `{line}  # noqa: F401` to {ctx.display_path(target)} (or move the class there).",
        location=where,
    )


def _abstract(ctx: Context, label: str, name: str, where: FileLocation | None) -> Finding:
    return catalog.finding(
        "authtools.E102",
        f"The user model {label}.{name} is abstract (Meta.abstract = True): Django never "
        f"registers abstract models, so AUTH_USER_MODEL cannot name it.",
        f"Remove `abstract = True` from {name}.Meta, or define a concrete "
        f"`class {name}(...)` that inherits from it, then run makemigrations.",
        location=where,
    )


def _proxy(label: str, name: str, where: FileLocation | None, concrete: str | None) -> Finding:
    if concrete:
        hint = (
            f"Point AUTH_USER_MODEL at the concrete model: `AUTH_USER_MODEL = {concrete!r}` "
            f"(or remove `proxy = True` from {name}.Meta and run makemigrations)."
        )
    else:
        hint = (
            f"Remove `proxy = True` from {name}.Meta and inherit from AbstractUser or "
            f"AbstractBaseUser (a proxy of auth.User cannot be the user model), then run "
            f"makemigrations."
        )
    why = (
        "it shares the table of " + repr(concrete)
        if concrete
        else "a proxy of auth.User cannot even be created once auth.User is swapped out"
    )
    return catalog.finding(
        "authtools.E103",
        f"The user model {label}.{name} is a proxy model: {why}.",
        hint,
        location=where,
    )


# --- the user-model contract -----------------------------------------------------------------


def check_contract(ctx: Context, cls: Any) -> Iterator[Finding]:
    """What django.contrib.auth expects of the model AUTH_USER_MODEL names."""
    opts = cls._meta
    label = f"{opts.app_label}.{opts.object_name}"
    if opts.proxy:
        concrete = opts.concrete_model._meta
        yield _proxy(
            opts.app_label,
            opts.object_name,
            _meta_location(ctx, cls, "proxy"),
            concrete=f"{concrete.app_label}.{concrete.object_name}",
        )
        return
    if not is_user_class(cls):
        yield catalog.finding(
            "authtools.E104",
            f"The user model {label} does not inherit from AbstractBaseUser: it has no "
            f"password, USERNAME_FIELD or REQUIRED_FIELDS, so login, createsuperuser and "
            f"Django's auth checks fail.",
            f"Inherit from AbstractUser (`from django.contrib.auth.models import "
            f"AbstractUser`; `class {opts.object_name}(AbstractUser):`), or from "
            f"AbstractBaseUser and PermissionsMixin, then run makemigrations.",
            location=_class_location(ctx, cls),
        )
        return
    yield from _required_fields(ctx, cls, label)
    yield from _username_field(ctx, cls, label)
    yield from _manager(ctx, cls, label)
    yield from _properties(ctx, cls, label)


def _required_fields(ctx: Context, cls: Any, label: str) -> Iterator[Finding]:
    required = cls.REQUIRED_FIELDS
    if not isinstance(required, list | tuple):
        items = [required] if isinstance(required, str) else list(_iterable(required))
        yield catalog.finding(
            "authtools.E108",
            f"{label}.REQUIRED_FIELDS is {required!r}, not a list or tuple "
            f"(Django's auth.E001); createsuperuser would prompt for the wrong fields.",
            f"Write `REQUIRED_FIELDS = {[i for i in items if isinstance(i, str)]!r}`.",
            location=_attr_location(ctx, cls, "REQUIRED_FIELDS"),
        )
        return
    if cls.USERNAME_FIELD in required:
        rest = [f for f in required if f != cls.USERNAME_FIELD]
        yield catalog.finding(
            "authtools.E107",
            f"{label}.USERNAME_FIELD {cls.USERNAME_FIELD!r} is also listed in REQUIRED_FIELDS "
            f"(Django's auth.E002); createsuperuser would ask for it twice.",
            f"Write `REQUIRED_FIELDS = {rest!r}`.",
            location=_attr_location(ctx, cls, "REQUIRED_FIELDS"),
        )


def _iterable(value: Any) -> list[Any]:
    try:
        return list(value)
    except TypeError:
        return []


def _username_field(ctx: Context, cls: Any, label: str) -> Iterator[Finding]:
    from django.core.exceptions import FieldDoesNotExist

    opts = cls._meta
    username = cls.USERNAME_FIELD
    try:
        field = opts.get_field(username)
    except (FieldDoesNotExist, TypeError):
        yield _no_username_field(ctx, cls, label, username)
        return
    if field.unique or any(c.fields == (username,) for c in opts.total_unique_constraints):
        return
    yield _not_unique(ctx, cls, label, username)


def _no_username_field(ctx: Context, cls: Any, label: str, username: Any) -> Finding:
    import difflib

    opts = cls._meta
    names = [f.name for f in opts.concrete_fields]
    unique = [f.name for f in opts.concrete_fields if f.unique and not f.primary_key]
    guess = difflib.get_close_matches(str(username), names, n=1) or unique[:1]
    if guess:
        hint = f"Write `USERNAME_FIELD = {guess[0]!r}`"
        hint += "" if guess[0] in unique else f" and give {guess[0]!r} unique=True"
        hint += ", or add the field to the model and run makemigrations."
    else:
        hint = (
            "Add a unique field (e.g. `email = models.EmailField(unique=True)`), name it in "
            "USERNAME_FIELD and run makemigrations."
        )
    return catalog.finding(
        "authtools.E105",
        f"{label}.USERNAME_FIELD is {username!r}, which is not a field of the model "
        f"(its fields: {', '.join(names)}); login, createsuperuser and Django's auth "
        f"checks fail.",
        hint,
        location=_attr_location(ctx, cls, "USERNAME_FIELD"),
    )


def _not_unique(ctx: Context, cls: Any, label: str, username: str) -> Finding:
    from django.conf import settings

    where = _attr_location(ctx, cls, username)
    hint = (
        f"Add unique=True to the {username!r} field (or a UniqueConstraint(fields="
        f"[{username!r}], ...) without a condition to Meta.constraints), run makemigrations "
        f"and migrate; remove duplicate values first or the migration fails."
    )
    if list(settings.AUTHENTICATION_BACKENDS) == DEFAULT_BACKENDS:
        return catalog.finding(
            "authtools.E106",
            f"{label}.{username} is the USERNAME_FIELD but is not unique (Django's "
            f"auth.E003): ModelBackend cannot tell two users with the same "
            f"{username} apart.",
            hint,
            location=where,
        )
    return catalog.finding(
        "authtools.W111",
        f"{label}.{username} is the USERNAME_FIELD but is not unique (Django's auth.W004); "
        f"only custom AUTHENTICATION_BACKENDS that handle duplicates can log users in "
        f"safely.",
        "Make sure every backend in AUTHENTICATION_BACKENDS handles duplicate usernames, "
        "or: " + hint[0].lower() + hint[1:],
        location=where,
    )


def _manager(ctx: Context, cls: Any, label: str) -> Iterator[Finding]:
    manager = cls._meta.default_manager
    if manager is None:
        return
    missing = [m for m in MANAGER_METHODS if not callable(getattr(manager, m, None))]
    if not missing:
        return
    name = manager.name or "objects"
    where = _attr_location(ctx, cls, name)
    hint = _manager_hint(ctx, cls, name, type(manager), missing)
    return_type = type(manager)
    yield catalog.finding(
        "authtools.E109",
        f"The default manager {label}.{name} "
        f"({return_type.__module__}.{return_type.__qualname__}) lacks "
        f"{', '.join(missing)}: createsuperuser, login (get_by_natural_key) and "
        f"user creation break.",
        hint,
        location=where,
    )


def _manager_hint(ctx: Context, cls: Any, name: str, current: type, missing: list[str]) -> str:
    """What to write, using what the project has: its own manager class (add the methods), a
    manager class of the model's module that has them (use it), else a new one."""
    from django.contrib.auth.base_user import BaseUserManager

    opts = cls._meta
    module = inspect.getmodule(cls)
    for value in vars(module).values() if module else ():
        if (
            isinstance(value, type)
            and issubclass(value, BaseUserManager)
            and value.__module__ == cls.__module__
            and all(callable(getattr(value, m, None)) for m in MANAGER_METHODS)
        ):
            where = _class_location(ctx, value)
            return (
                f"Write `{name} = {value.__name__}()` in {opts.object_name}: "
                f"{value.__name__}{f' ({where})' if where else ''} already has "
                f"{', '.join(MANAGER_METHODS)}."
            )
    found = _class_node(current)
    if found is not None and ctx.is_project_file(found[0]):
        own = FileLocation(ctx.display_path(found[0]), found[1].lineno)
        base = (
            ""
            if issubclass(current, BaseUserManager)
            else (" and make it a subclass of BaseUserManager (django.contrib.auth.base_user)")
        )
        return f"Add {', '.join(missing)} to {current.__name__} ({own}){base}."
    fields = {f.name for f in opts.concrete_fields}
    if cls.USERNAME_FIELD == "username" and "email" in fields:
        return (
            f"Write `{name} = UserManager()` with `from django.contrib.auth.models import "
            f"UserManager`."
        )
    args = f"self, {cls.USERNAME_FIELD}, password=None, **extra_fields"
    return (
        f"Define `class {opts.object_name}Manager(BaseUserManager)` (from "
        f"django.contrib.auth.base_user) with create_user({args}) and "
        f"create_superuser({args}), and write `{name} = {opts.object_name}Manager()`."
    )


def _properties(ctx: Context, cls: Any, label: str) -> Iterator[Finding]:
    for attr, check in (("is_anonymous", "auth.C009"), ("is_authenticated", "auth.C010")):
        value = inspect.getattr_static(cls, attr, None)
        if value is None or isinstance(value, property) or not callable(value):
            continue
        yield catalog.finding(
            "authtools.E110",
            f"{label}.{attr} is a method, not a property (Django's {check}): "
            f"`if user.{attr}:` is always true, a security hole.",
            f"Put `@property` above `def {attr}(self)`, or delete the method to inherit "
            f"AbstractBaseUser's.",
            location=_attr_location(ctx, cls, attr),
        )


# --- locations -----------------------------------------------------------------------------


def _class_node(cls: Any) -> tuple[Path, ast.ClassDef] | None:
    try:
        source = inspect.getsourcefile(cls)
    except (TypeError, OSError):
        return None
    if not source:
        return None
    path = Path(source)
    tree = parse_file(path)
    if tree is None:
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == cls.__name__:
            return path, node
    return None


def _class_location(ctx: Context, cls: Any) -> FileLocation | None:
    found = _class_node(cls)
    if found is None:
        return None
    return FileLocation(ctx.display_path(found[0]), found[1].lineno)


def _member_line(node: ast.ClassDef, attr: str) -> int | None:
    for item in node.body:
        if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and item.name == attr:
            return item.lineno
        targets: list[ast.expr] = []
        if isinstance(item, ast.Assign):
            targets = item.targets
        elif isinstance(item, ast.AnnAssign):
            targets = [item.target]
        if any(isinstance(t, ast.Name) and t.id == attr for t in targets):
            return item.lineno
    return None


def _attr_location(ctx: Context, cls: Any, attr: str) -> FileLocation | None:
    """Where ATTR is set in the project's own classes of CLS's MRO, else CLS's statement."""
    for klass in cls.__mro__:
        found = _class_node(klass)
        if found is None or not ctx.is_project_file(found[0]):
            continue
        line = _member_line(found[1], attr)
        if line is not None:
            return FileLocation(ctx.display_path(found[0]), line)
    return _class_location(ctx, cls)


def _meta_location(ctx: Context, cls: Any, attr: str) -> FileLocation | None:
    found = _class_node(cls)
    if found is None:
        return None
    path, node = found
    for item in node.body:
        if isinstance(item, ast.ClassDef) and item.name == "Meta":
            line = _member_line(item, attr)
            if line is not None:
                return FileLocation(ctx.display_path(path), line)
    return FileLocation(ctx.display_path(path), node.lineno)
