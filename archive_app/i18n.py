from flask_babel import gettext as _, lazy_gettext as _l, ngettext  # noqa: F401, I001
