"""Scores candidates against the must-have skills of an opening."""


def score(candidate, opening):
    must_have = set(opening["must_have"])
    nice_to_have = set(opening.get("nice_to_have", ()))
    skills = set(candidate["skills"])
    if not must_have <= skills:
        return 0
    return 50 + 10 * len(nice_to_have & skills)


def shortlist(candidates, opening, size=5)
    ranked = sorted(candidates, key=lambda c: score(c, opening), reverse=True)
    return [c["name"] for c in ranked[:size] if score(c, opening) > 0]
