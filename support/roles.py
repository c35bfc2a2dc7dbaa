"""Staff roles: the two groups support work is organised in, and what each may do.

Django's own permission machinery enforces them: admin shows a group member only the
models (and actions) its permissions allow, and pages check ``user.has_perm``. The
groups are created and kept in sync by data migrations (``roles_sync``); a new
permission here needs a migration that calls it again.
"""

from typing import Any

SUPPORT_AGENTS = "Support agents"
CONTENT_EDITORS = "Content editors"

# "app_label.codename". support.view_insights is the insights dashboard (Question.Meta.permissions).
ROLE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    SUPPORT_AGENTS: (
        "support.view_ticket", "support.change_ticket", "support.view_question",
        "support.view_emaildelivery", "support.change_emaildelivery",  # re-send failed emails
        "support.view_insights",
        "knowledge.view_article",  # read the sources a ticket cites
        "knowledge.view_curatedanswer", "knowledge.add_curatedanswer",  # propose from a reply, not publish
    ),
    CONTENT_EDITORS: (
        "knowledge.view_article", "knowledge.add_article", "knowledge.change_article", "knowledge.delete_article",
        "knowledge.view_chunk", "knowledge.view_knowledgebase",
        "knowledge.view_curatedanswer", "knowledge.add_curatedanswer", "knowledge.change_curatedanswer",
        "knowledge.delete_curatedanswer", "knowledge.publish_curatedanswer",
        "knowledge.view_knowngap", "knowledge.add_knowngap", "knowledge.delete_knowngap",
        "support.view_insights",
    ),
}  # fmt: skip


def roles_sync(apps: Any, schema_editor: Any = None) -> list[str]:
    """Create both groups and set their permissions to ``ROLE_PERMISSIONS`` exactly.

    ``apps`` is a migration's historical registry (or ``django.apps.apps``). Permissions
    Django has not created yet are created first (``post_migrate`` runs only after all
    migrations). A permission whose model does not exist at this point of the migration
    history is skipped and returned, so a later migration adds it by calling this again.
    """
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        # Historical app configs have no models module, which create_permissions requires.
        original = getattr(app_config, "models_module", None)
        app_config.models_module = original or True
        create_permissions(app_config, verbosity=0, apps=apps)
        app_config.models_module = original
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    missing: list[str] = []
    for name, wanted in ROLE_PERMISSIONS.items():
        group, _ = group_model.objects.get_or_create(name=name)
        found = []
        for label in wanted:
            app_label, codename = label.split(".")
            permission = permission_model.objects.filter(content_type__app_label=app_label, codename=codename).first()
            if permission is None:
                missing.append(label)
            else:
                found.append(permission)
        group.permissions.set(found)
    return missing
