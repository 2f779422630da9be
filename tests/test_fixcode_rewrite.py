"""The rewrite of one module's text (authtools.procedures.fixcode.python): pure functions, so
these run in process. Each case asserts the whole new text and what was left alone, and that a
second rewrite changes nothing."""

from __future__ import annotations

import textwrap

from authtools.procedures.fixcode.python import Left, Result, Target, rewrite

ACCOUNTS = Target("accounts", "user", "User", "accounts.models")


def run(source: str, kind: str = "code", target: Target = ACCOUNTS) -> Result:
    source = textwrap.dedent(source)
    result = rewrite(source, target, kind)  # type: ignore[arg-type]
    assert rewrite(result.source, target, kind).source == result.source  # type: ignore[arg-type]
    return result


def test_a_type_hint_keeps_the_import_and_says_why() -> None:
    result = run(
        """\
        from django.contrib.auth.models import User


        def greet(user: User) -> str:
            return User.objects.get(pk=user.pk).get_username()
        """
    )
    assert result.source == textwrap.dedent(
        """\
        from django.contrib.auth import get_user_model
        from django.contrib.auth.models import User


        def greet(user: User) -> str:
            return get_user_model().objects.get(pk=user.pk).get_username()
        """
    )
    assert result.left == [
        Left(
            1, "from django.contrib.auth.models import User", "still needed at line 4 (a type hint)"
        )
    ]


def test_imports_for_type_checking_only_are_not_touched() -> None:
    source = """\
        from typing import TYPE_CHECKING

        if TYPE_CHECKING:
            from django.contrib.auth.models import User


        def name(user: "User") -> str:
            return user.get_username()
        """
    result = run(source)
    assert (result.source, result.left) == (textwrap.dedent(source), [])


def test_a_rebound_name_a_star_import_and_a_foreign_settings_are_left_alone() -> None:
    rebound = run(
        """\
        from django.contrib.auth.models import User

        User = User.objects.none().model


        def count():
            return User.objects.count()
        """
    )
    assert not rebound.changes
    assert rebound.left == [
        Left(1, "from django.contrib.auth.models import User", "'User' is bound again at line 3")
    ]

    star = run("from django.contrib.auth.models import *\n\nx = User.objects.count()\n")
    assert not star.changes
    assert star.left == [
        Left(
            1,
            "from django.contrib.auth.models import *",
            "a star import: the names it binds are not known",
        )
    ]

    foreign_source = """\
        from django.db import models

        from mysite import settings


        class Note(models.Model):
            author = models.ForeignKey("auth.User", on_delete=models.CASCADE)
        """
    foreign = run(foreign_source, kind="models")
    assert (foreign.source, foreign.changes) == (textwrap.dedent(foreign_source), [])
    assert foreign.left == [
        Left(7, '"auth.User"', "'settings' is imported from mysite"),
    ]


def test_import_time_uses_in_a_models_module_stay_and_get_user_model_goes() -> None:
    result = run(
        """\
        from django.contrib.auth import get_user_model
        from django.db import models

        User = get_user_model()  # evaluated while the apps load


        class Note(models.Model):
            author = models.ForeignKey(User, on_delete=models.CASCADE)
            readers = models.ManyToManyField(User, related_name="+")

            def others(self):
                return User.objects.exclude(pk=self.author_id)
        """,
        kind="models",
    )
    assert result.source == textwrap.dedent(
        """\
        from django.conf import settings
        from django.contrib.auth import get_user_model
        from django.db import models


        class Note(models.Model):
            author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
            readers = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="+")

            def others(self):
                return get_user_model().objects.exclude(pk=self.author_id)
        """
    )
    assert result.left == []

    kept = run(
        """\
        from django.contrib.auth.models import User
        from django.db import models

        STAFF = User.objects.filter(is_staff=True)
        """,
        kind="models",
    )
    assert not kept.changes
    assert kept.left == [
        Left(
            4,
            "User",
            "used at import time of a models module, where get_user_model() would run while "
            "the app registry loads",
        )
    ]


def test_a_migration_that_also_needs_auth_keeps_that_dependency() -> None:
    result = run(
        """\
        from django.db import migrations, models


        class Migration(migrations.Migration):
            dependencies = [
                ("auth", "0012_alter_user_first_name_max_length"),
            ]

            operations = [
                migrations.AddField("t", "owner", models.ForeignKey(to="auth.user")),
                migrations.AddField("t", "group", models.ForeignKey(to="auth.group")),
            ]
        """,
        kind="migration",
    )
    assert result.source == textwrap.dedent(
        """\
        from django.conf import settings
        from django.db import migrations, models


        class Migration(migrations.Migration):
            dependencies = [
                migrations.swappable_dependency(settings.AUTH_USER_MODEL),
                ("auth", "0012_alter_user_first_name_max_length"),
            ]

            operations = [
                migrations.AddField("t", "owner", models.ForeignKey(to=settings.AUTH_USER_MODEL)),
                migrations.AddField("t", "group", models.ForeignKey(to="auth.group")),
            ]
        """
    )


def test_permission_strings_only_whole_and_only_for_a_custom_model() -> None:
    source = """\
        def can(user):
            # 'auth.change_user' in a comment stays as it is
            return user.has_perm("auth.change_user") or user.has_perm("auth." "view_user")
        """
    result = run(source)
    assert result.source == textwrap.dedent(source).replace(
        'has_perm("auth.change_user")', 'has_perm("accounts.change_user")'
    )
    assert result.left == [Left(3, '"auth." "view_user"', "a permission string written in pieces")]
    auth = Target("auth", "user", "User", "django.contrib.auth.models")
    assert run(source, target=auth).source == textwrap.dedent(source)


def test_a_class_attribute_named_settings_in_another_model_does_not_block() -> None:
    """babybuddy's core/models.py: Feeding has settings = FeedingSettings(), Timer relates to
    "auth.User"; a class attribute only shadows the import inside its own class body."""
    result = run(
        """\
        from django.db import models


        class Feeding(models.Model):
            settings = object()


        class Timer(models.Model):
            user = models.ForeignKey("auth.User", on_delete=models.CASCADE)


        class Note(models.Model):
            settings = object()
            author = models.ForeignKey("auth.User", on_delete=models.CASCADE)
        """,
        kind="models",
    )
    assert result.source == textwrap.dedent(
        """\
        from django.conf import settings
        from django.db import models


        class Feeding(models.Model):
            settings = object()


        class Timer(models.Model):
            user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)


        class Note(models.Model):
            settings = object()
            author = models.ForeignKey("auth.User", on_delete=models.CASCADE)
        """
    )
    assert result.left == [Left(14, '"auth.User"', "'settings' is bound at line 13")]


def test_get_user_model_at_import_time_becomes_the_lazy_setting_where_django_takes_it() -> None:
    """babybuddy's models.py: @receiver(post_save, sender=get_user_model()) (W203)."""
    result = run(
        """\
        from django.conf import settings
        from django.contrib.auth import get_user_model
        from django.db import models
        from django.db.models.signals import post_save
        from django.dispatch import receiver

        ADMINS = get_user_model().objects.filter(is_superuser=True)


        class Settings(models.Model):
            user = models.OneToOneField(get_user_model(), on_delete=models.CASCADE)


        @receiver(post_save, sender=get_user_model())
        def create_user_settings(sender, instance, created, **kwargs):
            if created:
                Settings.objects.create(user=instance)
        """,
        kind="models",
    )
    assert result.source == textwrap.dedent(
        """\
        from django.conf import settings
        from django.contrib.auth import get_user_model
        from django.db import models
        from django.db.models.signals import post_save
        from django.dispatch import receiver

        ADMINS = get_user_model().objects.filter(is_superuser=True)


        class Settings(models.Model):
            user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)


        @receiver(post_save, sender=settings.AUTH_USER_MODEL)
        def create_user_settings(sender, instance, created, **kwargs):
            if created:
                Settings.objects.create(user=instance)
        """
    )
    assert result.left == [
        Left(
            7,
            "get_user_model()",
            "get_user_model() at import time of a models module: only a relation or a model "
            "signal's sender can take settings.AUTH_USER_MODEL instead",
        )
    ]
