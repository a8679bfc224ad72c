"""A front-end's health checks: its command and its URL, run once, or until they pass (rules.md#health).

- ``--health-cmd`` passes when it exits 0 within ``COMMAND_LIMIT`` seconds (a hook, ``hooks``).
- ``--health-url`` passes when a GET answers 2xx within ``URL_LIMIT`` seconds; TLS certificates
  are verified. ``{frontend}`` in the URL is the front-end's name; with ``{module}`` the URL is
  checked for every module the run switched there, ``URLS_AT_ONCE`` at a time, and each must pass.

Right after a switch a front-end's checks are tried again, with a short pause, until they pass or
its health timeout runs out (``wait_until_healthy``): a refused connection, another status or a
non-zero exit is only a reason to try again. During a soak every check must pass at once
(``check_once``). A front-end with neither check passes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

from app.engine.errors import BadInputError
from app.engine.frontend.hooks import HookResult, Phase, run_hook

if TYPE_CHECKING:  # the HTTP client loads when a URL is checked
    import httpx

    from app.engine.frontend.registry import Frontend

COMMAND_LIMIT = 60.0  # seconds a health command may take
URL_LIMIT = 10.0  # seconds a health URL has to answer
DEFAULT_TIMEOUT = 60.0  # seconds after a switch for the checks to pass, unless the front-end says
RETRY_PAUSE = 1.0  # seconds between two tries after a switch
URLS_AT_ONCE = 4  # a {module} URL's checks in flight at once on one front-end
FRONTEND_PLACEHOLDER = "{frontend}"
MODULE_PLACEHOLDER = "{module}"
_PLACEHOLDERS = (FRONTEND_PLACEHOLDER, MODULE_PLACEHOLDER)


@dataclass(frozen=True)
class HealthResult:
    """One round of a front-end's checks: ``problem`` None when every one passed."""

    problem: str | None
    output: str  # what the command said, or each URL's answer, for the front-end's last output

    @property
    def ok(self) -> bool:
        return self.problem is None


def check_url(text: str) -> str:
    """A ``--health-url`` checked: http or https, with a host, and no placeholder but ours."""
    url = text.strip()
    sample = _filled(url, "web1", "Module1")
    if "{" in sample or "}" in sample:
        raise BadInputError(f"--health-url {url!r}: the only placeholders are {{frontend}} and {{module}}")
    try:
        parts = urlsplit(sample)
        port = parts.port  # raises on a port that is not a number from 0 to 65535
    except ValueError as error:
        raise BadInputError(f"--health-url {url!r} does not parse: {error}") from None
    if parts.scheme not in ("http", "https"):
        raise BadInputError(f"--health-url {url!r} must be an http:// or https:// URL")
    if not parts.hostname:
        raise BadInputError(f"--health-url {url!r} names no host")
    if port == 0:
        raise BadInputError(f"--health-url {url!r}: port 0 cannot be reached")
    if any(ch.isspace() for ch in url):
        raise BadInputError(f"--health-url {url!r} holds a space; write it as %20")
    return url


def check_timeout(seconds: float) -> float:
    if not seconds > 0 or seconds > 86400:
        raise BadInputError(f"--health-timeout takes a number of seconds above 0 and at most a day, not {seconds}")
    return float(seconds)


def has_checks(frontend: Frontend) -> bool:
    return bool(frontend.health_cmd or frontend.health_url)


def timeout_of(frontend: Frontend) -> float:
    return frontend.health_timeout if frontend.health_timeout is not None else DEFAULT_TIMEOUT


def check_once(frontend: Frontend, modules: Sequence[str], run_id: int | None) -> HealthResult:
    """Every check of ``frontend`` once; ``modules``: those a ``{module}`` URL is checked for."""
    outputs: list[str] = []
    if frontend.health_cmd:
        hook = run_hook(
            frontend.health_cmd, frontend=frontend.name, run_id=run_id, phase=Phase.HEALTH, limit=COMMAND_LIMIT
        )
        outputs.append(hook.output)
        problem = hook.problem(f"health check of front-end {frontend.name}")
        if problem is not None:
            return HealthResult(problem, "\n".join(outputs))
    if frontend.health_url:
        problem, said = _check_urls(frontend, frontend.health_url, modules)
        outputs.append(said)
        if problem is not None:
            return HealthResult(problem, "\n".join(outputs))
    return HealthResult(None, "\n".join(output for output in outputs if output))


def wait_until_healthy(
    frontend: Frontend,
    modules: Sequence[str],
    run_id: int | None,
    *,
    stop: Callable[[], bool] = lambda: False,
    clock: Callable[[], float] = time.monotonic,
    pause: Callable[[float], None] = time.sleep,
) -> HealthResult:
    """Try ``frontend``'s checks until they pass, its health timeout runs out, or ``stop()``."""
    limit = timeout_of(frontend)
    deadline = clock() + limit
    tries = 0
    while True:
        result = check_once(frontend, modules, run_id)
        tries += 1
        if result.ok or stop():
            return result
        left = deadline - clock()
        if left <= 0:
            times = "once" if tries == 1 else f"{tries} times"
            return HealthResult(f"{result.problem} (tried {times} in {limit:g} s)", result.output)
        pause(min(RETRY_PAUSE, left))


def as_hook_result(result: HealthResult, command: str) -> HookResult:
    """A round of checks as the last output a front-end shows."""
    return HookResult(command, Phase.HEALTH, 0 if result.ok else 1, result.output, 0.0)


def _filled(url: str, frontend: str, module: str | None) -> str:
    filled = url.replace(FRONTEND_PLACEHOLDER, quote(frontend, safe=""))
    return filled if module is None else filled.replace(MODULE_PLACEHOLDER, quote(module, safe=""))


def urls_of(frontend: Frontend, template: str, modules: Sequence[str]) -> list[str]:
    """The URLs a front-end's check GETs: one, or one per module when it names ``{module}``."""
    if MODULE_PLACEHOLDER not in template:
        return [_filled(template, frontend.name, None)]
    return [_filled(template, frontend.name, module) for module in modules]


def _check_urls(frontend: Frontend, template: str, modules: Sequence[str]) -> tuple[str | None, str]:
    import httpx

    urls = urls_of(frontend, template, modules)
    if not urls:
        return None, f"{template}: no module switched here to check"
    with httpx.Client(timeout=URL_LIMIT, follow_redirects=False, verify=True) as client:
        if len(urls) == 1:
            answers = [_get(client, urls[0])]
        else:
            with ThreadPoolExecutor(min(URLS_AT_ONCE, len(urls)), thread_name_prefix="health-url") as pool:
                answers = list(pool.map(lambda url: _get(client, url), urls))
    said = "\n".join(f"GET {url}: {answer}" for url, (_ok, answer) in zip(urls, answers, strict=True))
    for url, (ok, answer) in zip(urls, answers, strict=True):
        if not ok:
            return f"health URL {url} of front-end {frontend.name} {answer}", said
    return None, said


def _get(client: httpx.Client, url: str) -> tuple[bool, str]:
    """Whether a GET of ``url`` answered 2xx in time, and what it answered."""
    import httpx

    try:
        response = client.get(url)
    except httpx.TimeoutException:
        return False, f"did not answer within {URL_LIMIT:.0f} s"
    except httpx.HTTPError as error:
        return False, f"could not be reached: {_reason(error)}"
    if 200 <= response.status_code < 300:
        return True, f"answered {response.status_code}"
    return False, f"answered {response.status_code} {response.reason_phrase}".rstrip()


def _reason(error: Exception) -> str:
    """The innermost cause's words: "[Errno 111] Connection refused", a certificate problem."""
    while error.__cause__ is not None and isinstance(error.__cause__, Exception):
        error = error.__cause__
    return str(error) or type(error).__name__
