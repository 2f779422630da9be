"""The related-objects probe (W701) on real databases: users without their profiles.Profile."""

from __future__ import annotations

from pathlib import Path

from .conftest import Project
from .helpers import diagnose_db, findings_of

# 40 users; profiles for 28 of them, created the way sign-up code does.
USERS_AND_SOME_PROFILES = """
from django.contrib.auth import get_user_model
from profiles.models import Profile

User = get_user_model()
users = User.objects.bulk_create(User(username=f"user{i:02}") for i in range(40))
users = list(User.objects.order_by("username"))
Profile.objects.bulk_create(Profile(user=user) for user in users[:28])
"""

HINT = (
    "If every user should have one (a profile), create the missing rows in a data migration "
    "(one Profile per user without one, e.g. bulk_create) and when a user is created (a "
    "post_save signal or the sign-up code). If a missing row means something (e.g. not set up "
    "yet), do not create rows: handle the absence where user.profile is read (hasattr, or "
    "except Profile.DoesNotExist) and list it as optional: "
    'AUTHTOOLS = {"OPTIONAL_RELATIONS": ["profiles.Profile.user"]}.'
)


def related_findings(project: Project) -> tuple[int, list[dict[str, object]]]:
    return diagnose_db(project, ["related-objects"], "--fail-level", "warning")


def test_users_without_their_profile(db_project: Project) -> None:
    db_project.migrate()
    assert related_findings(db_project) == (0, [])  # no users: nothing missing

    db_project.shell(USERS_AND_SOME_PROFILES)
    assert db_project.db.query(
        "SELECT COUNT(*) FROM accounts_user u WHERE NOT EXISTS "
        "(SELECT 1 FROM profiles_profile p WHERE p.user_id = u.id)"
    ) == [(12,)]
    missing = db_project.shell(
        """
        from django.contrib.auth import get_user_model
        try:
            get_user_model().objects.get(username="user39").profile
        except get_user_model().profile.RelatedObjectDoesNotExist as exc:
            print(type(exc).__name__)
        """,
    )
    assert missing == "RelatedObjectDoesNotExist\n"

    code, findings = related_findings(db_project)
    assert code == 1
    assert findings == [
        {
            "id": "authtools.W701",
            "severity": "warning",
            "cause": "related-objects",
            "message": "12 of 40 users have no profiles.Profile "
            "(user.profile raises RelatedObjectDoesNotExist).",
            "hint": HINT,
            "location": {"table": "profiles_profile"},
            "fix_command": None,
            "because": None,
        }
    ]

    # Every user gets a profile: the warning goes.
    db_project.shell(
        """
        from django.contrib.auth import get_user_model
        from profiles.models import Profile
        for user in get_user_model().objects.filter(profile__isnull=True):
            Profile.objects.get_or_create(user=user)
        """,
    )
    assert related_findings(db_project) == (0, [])

    # The table drifts from the model (a renamed column): no traceback, nothing to count.
    db_project.db.query("ALTER TABLE profiles_profile RENAME COLUMN user_id TO owner_id")
    assert related_findings(db_project)[1] == []


# An installed app outside the project whose model creates its row when first needed, as
# Wagtail's UserProfile.get_for_user does (wagtail/users/models.py).
LAZY_MODELS = """from django.conf import settings
from django.db import models


class Preferences(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    language = models.CharField(max_length=10, blank=True)

    @classmethod
    def get_for_user(cls, user):
        return cls.objects.get_or_create(user=user)[0]
"""


def test_a_row_created_when_first_needed_is_optional(project: Project, tmp_path: Path) -> None:
    """Users without the row of a third-party app that creates it on first use: info (I702)
    naming where, not a warning whose hint says to create the rows."""
    site = tmp_path / "site"
    for rel, text in {
        "lazyprefs/__init__.py": "",
        "lazyprefs/models.py": LAZY_MODELS,
        "lazyprefs/migrations/__init__.py": "",
    }.items():
        (site / rel).parent.mkdir(parents=True, exist_ok=True)
        (site / rel).write_text(text)
    settings = project.read("testproject/settings.py")
    project.write(
        "testproject/settings.py",
        settings.replace('    "profiles",\n', '    "profiles",\n    "lazyprefs",\n'),
    )
    env = {"PYTHONPATH": str(site)}
    project.ok("makemigrations", "lazyprefs", "-v", "0", **env)
    project.ok("migrate", "--no-input", "-v", "0", **env)
    project.ok(
        "shell",
        "-c",
        "from accounts.models import User; from profiles.models import Profile\n"
        "for i in range(3): Profile.objects.create(user=User.objects.create(username=f'u{i}'))",
        **env,
    )
    result = project.manage(
        "diagnose_user_model", "--format", "json", "--fail-level", "warning", **env
    )
    assert result.code == 0, str(result)
    assert findings_of(result, "related-objects") == [
        {
            "id": "authtools.I702",
            "severity": "info",
            "cause": "related-objects",
            "message": "3 of 3 users have no lazyprefs.Preferences, an optional relation: the "
            f"code creates it when first needed ({site / 'lazyprefs/models.py'}:11).",
            "hint": "Nothing to do; do not create rows for them, as a row may change what the "
            "code does for a user (a Preferences that exists is taken as set up).",
            "location": {"table": "lazyprefs_preferences"},
            "fix_command": None,
            "because": None,
        }
    ]
