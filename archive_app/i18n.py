from flask_babel import gettext as _  # noqa: F401
