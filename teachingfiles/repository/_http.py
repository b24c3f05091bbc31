"""HTTP plumbing shared by the remote sources: sessions with retry and readable errors.

Retries are urllib3's :class:`~urllib3.util.Retry` mounted on a :mod:`requests`
session (exponential backoff, ``Retry-After`` honoured, on connection errors and on
429/500/502/503/504), so every client built on the session (``dicomweb-client``,
the NBIA client) retries the same way. :func:`http_errors` turns what requests
raises into a :class:`~teachingfiles.errors.RepositoryError` (or
:class:`~teachingfiles.errors.NotFoundError` for 404) that says what to fix.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.util import Retry

from teachingfiles.errors import NotFoundError, RepositoryError, UsageError

__all__ = ["MAX_RETRY_AFTER", "RETRY_STATUSES", "check_url", "http_errors", "make_session"]

#: Answers worth asking again: quota (429) and a server that is busy or restarting.
RETRY_STATUSES = (429, 500, 502, 503, 504)
#: The longest wait (s) a ``Retry-After`` header may impose before a retry.
MAX_RETRY_AFTER = 30.0


class _Retry(Retry):
    """urllib3's retry, a server's ``Retry-After`` capped at :data:`MAX_RETRY_AFTER`.

    urllib3 sleeps as long as the server says: a quota answer asking for an
    hour would hang the caller silently. Longer waits are cut; the last answer's
    message then tells how long the server asked for (see :func:`http_errors`).
    """

    def get_retry_after(self, response: Any) -> float | None:
        wait = super().get_retry_after(response)
        return None if wait is None else min(wait, MAX_RETRY_AFTER)


def check_url(url: str, what: str = "server") -> str:
    """Check that ``url`` is an absolute http(s) URL; return it without a trailing slash.

    Raises
    ------
    UsageError
        Saying what a good URL looks like.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(
            f"{url!r} is not a {what} URL; expected http(s)://host[:port]/path, "
            "e.g. http://127.0.0.1:8042/dicom-web"
        )
    return url.rstrip("/")


class _Session(requests.Session):
    """A session that sends QIDO-RS wildcards (``*``, ``?``) as they are.

    ``dicomweb-client`` percent-encodes them (``%2A``), which RFC 3986 allows, but
    Orthanc (1.10 with its DICOMweb plugin) then matches a literal ``*`` and finds
    nothing; both characters are legal in a query string, so they go unencoded.
    """

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        url = request.url or ""
        if "?" in url:
            path, _, query = url.partition("?")
            request.url = f"{path}?{query.replace('%2A', '*').replace('%3F', '?')}"
        return super().send(request, **kwargs)


def make_session(
    *,
    token: str | None = None,
    headers: Mapping[str, str] | None = None,
    retries: int = 4,
    backoff: float = 0.5,
    verify: bool | str = True,
    pool: int = 8,
) -> requests.Session:
    """Make a session that sends the auth headers and retries with exponential backoff.

    Parameters
    ----------
    token
        A bearer token, sent as ``Authorization: Bearer <token>``.
    headers
        More headers for every request (e.g. an API key header).
    retries
        How many times to ask again after a connection error or a 429/5xx answer.
    backoff
        The first wait in seconds; it doubles each time (``Retry-After`` wins).
    verify
        TLS verification: ``True``, ``False`` or the path of a CA bundle.
    pool
        Connections kept per host (parallel downloads use one each).
    """
    session = _Session()
    if token:
        session.headers["Authorization"] = f"Bearer {token}"
    if headers:
        session.headers.update(headers)
    session.verify = verify
    retry = _Retry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        backoff_factor=backoff,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=None,  # every method: STOW-RS and NBIA POSTs are idempotent
        respect_retry_after_header=True,
        raise_on_status=False,  # hand back the last answer, whose status says why
    )
    adapter = HTTPAdapter(max_retries=retry, pool_connections=pool, pool_maxsize=pool)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _status_message(
    url: str, status: int, reason: str, retries: int, retry_after: str | None = None
) -> str:
    host = urlsplit(url).netloc
    asks = f" (it asks to wait {retry_after} s)" if retry_after else ""
    if status == 401:
        return (
            f"{url}: 401 Unauthorized: {host} wants credentials; pass a token "
            "(token=..., or --token / $TEACHINGFILES_TOKEN on the command line)"
        )
    if status == 403:
        return (
            f"{url}: 403 Forbidden: {host} refused this request; the token lacks "
            "permission for it, or the server only allows some clients (ask its admin)"
        )
    if status == 429:
        return (
            f"{url}: 429 Too Many Requests after {retries} retries: the server's quota "
            f"is used up{asks}; wait and run again (a pull resumes where it stopped)"
        )
    if status >= 500:
        return (
            f"{url}: {status} {reason} after {retries} retries: the server is failing or "
            f"overloaded{asks}; try again later (a pull resumes where it stopped)"
        )
    return f"{url}: {status} {reason}: the server refused the request"


@contextlib.contextmanager
def http_errors(url: str, *, timeout: float | None = None, retries: int = 0) -> Iterator[None]:
    """Turn requests' exceptions raised inside into errors that say what to fix.

    Raises
    ------
    NotFoundError
        For a 404 answer.
    RepositoryError
        For a bad URL, a TLS failure, a refused connection, a timeout, 401/403,
        an exhausted quota (429) or a failing server (5xx).
    """
    try:
        yield
    except requests.HTTPError as exc:
        resp = exc.response
        status = resp.status_code if resp is not None else 0
        where = resp.url if resp is not None and resp.url else url
        reason = resp.reason if resp is not None else ""
        if status == 404:
            raise NotFoundError(
                f"{where}: 404 Not Found: the server has no such resource; check the "
                "UIDs, and that the URL is the DICOMweb (or API) root"
            ) from exc
        after = resp.headers.get("Retry-After") if resp is not None else None
        raise RepositoryError(_status_message(where, status, reason, retries, after)) from exc
    except requests.exceptions.SSLError as exc:
        raise RepositoryError(
            f"{url}: TLS error ({exc.__class__.__name__}): the certificate could not be "
            "verified; pass verify='/path/to/ca-bundle.pem' for a private CA, or use "
            "http:// for a server on this machine"
        ) from exc
    except (requests.exceptions.MissingSchema, requests.exceptions.InvalidURL) as exc:
        raise UsageError(
            f"{url!r} is not a usable URL ({exc}); expected http(s)://host/..."
        ) from exc
    except requests.exceptions.Timeout as exc:
        raise RepositoryError(
            f"{url}: no answer within {timeout} s; the server is slow or unreachable; "
            "raise the timeout or try again later"
        ) from exc
    except requests.exceptions.RetryError as exc:
        raise RepositoryError(
            f"{url}: the server kept failing after {retries} retries ({exc}); try again "
            "later (a pull resumes where it stopped)"
        ) from exc
    except requests.ConnectionError as exc:
        if _timed_out(exc):  # requests gives a read timeout after retries as a ConnectionError
            raise RepositoryError(
                f"{url}: no answer within {timeout} s (after {retries} retries); the server "
                "is slow or overloaded; raise the timeout or try again later"
            ) from exc
        raise RepositoryError(
            f"{url}: cannot connect ({_root_cause(exc)}); is the server running, and "
            "are the host and port right?"
        ) from exc
    except requests.RequestException as exc:
        raise RepositoryError(f"{url}: request failed: {exc}") from exc


def _timed_out(exc: requests.ConnectionError) -> bool:
    """Whether urllib3 gave up waiting (wrapped, alone or in a MaxRetryError)."""
    for arg in exc.args:
        reason = getattr(arg, "reason", arg)
        if isinstance(reason, urllib3.exceptions.NewConnectionError):
            return False  # a refused connection (urllib3 files it under timeouts)
        if isinstance(reason, urllib3.exceptions.TimeoutError):
            return True
    return False


def _root_cause(exc: BaseException) -> str:
    while exc.__cause__ is not None or exc.__context__ is not None:
        nxt = exc.__cause__ or exc.__context__
        assert nxt is not None
        exc = nxt
    text = str(exc)
    return text.split(": ", 1)[-1][:160] if text else exc.__class__.__name__
