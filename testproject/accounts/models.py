from django.contrib.auth.models import AbstractUser


class User(AbstractUser):
    """The project's user model: AbstractUser's fields, ready to grow."""
