"""Healthy: AbstractUser as it is, the shape Django recommends starting every project with."""

from django.contrib.auth.models import AbstractUser


class User(AbstractUser):
    """The project's user model: AbstractUser's fields, ready to grow."""
