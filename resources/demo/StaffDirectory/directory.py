"""Directory search matches any word of a colleague's name or team."""


def matches(person, query):
    words = query.lower().split()
    haystack = f"{person['name']} {person['team']}".lower()
    return all(word in haystack for word in words)


def search(people, query):
    return sorted((p for p in people if matches(p, query)), key=lambda p: p["name"])
