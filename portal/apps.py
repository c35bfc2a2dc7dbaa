"""App configs the portal sets for third-party apps."""

from axes.apps import AppConfig as AxesAppConfig
from django.utils.translation import gettext_lazy as _


class AxesConfig(AxesAppConfig):
    """django-axes with a name in the admin's language ("Axes" had headed its section on
    Korean admin pages; its own catalogue has no Korean, the project's has its words)."""

    verbose_name = _("Login attempts")
