from django.apps import AppConfig


class AuthtoolsConfig(AppConfig):
    name = "authtools"
    verbose_name = "authtools (user model diagnosis and repair)"

    def ready(self) -> None:
        from django.core import checks

        from authtools.checks import check_user_model

        checks.register(check_user_model, "authtools")
