"""Label lookup with a fallback to English when a translation is missing."""

FALLBACK = "en"


def translate(catalogs, locale, key, **values):
    for candidate in (locale, locale.split("-")[0], FALLBACK):
        text = catalogs.get(candidate, {}).get(key)
        if text is not None:
            return text.format(**values)
    return key
