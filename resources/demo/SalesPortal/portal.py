"""Builds the widgets shown on the sales home page."""

WIDGETS = {
    "recent-orders": "Recent orders",
    "open-quotes": "Open quotes",
    "top-customers": "Top customers",
}


def home_widgets(setting):
    """The configured widget names, in order, ignoring unknown ones."""
    names = [name.strip() for name in setting.split(",") if name.strip()]
    return [(name, WIDGETS[name]) for name in names if name in WIDGETS]
