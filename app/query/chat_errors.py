"""The openai client's exceptions as docrag's errors, without leaking secrets."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from app.errors import (
    ChatModelError,
    ChatModelRateLimited,
    ChatModelTimeout,
    ChatModelUnavailable,
)


@contextmanager
def translate_chat_errors(base_url: str | None) -> Iterator[None]:
    """Maps the openai client's exceptions to docrag's HTTP errors, without leaking secrets.
    Also the raw httpx errors a stream raises when it breaks off after it started."""
    import httpx
    import openai

    where = base_url or "the OpenAI API"
    try:
        yield
    except openai.APITimeoutError as exc:
        raise ChatModelTimeout(
            f"the chat model at {where} did not answer in time; try again, or raise "
            "DOCRAG_LLM__TIMEOUT_S"
        ) from exc
    except openai.APIConnectionError as exc:
        raise ChatModelUnavailable(
            f"cannot reach the chat model at {where}; check that the server is running "
            "and DOCRAG_LLM__BASE_URL"
        ) from exc
    except openai.RateLimitError as exc:
        retry_after = exc.response.headers.get("retry-after")
        raise ChatModelRateLimited(
            "the chat model is rate-limiting requests; retry later"
            + (f" (after {retry_after} s)" if retry_after else ""),
            headers={"Retry-After": retry_after} if retry_after else None,
        ) from exc
    except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
        raise ChatModelError(
            f"the chat model at {where} refused docrag's credentials "
            f"(HTTP {exc.status_code}); check DOCRAG_LLM__API_KEY"
        ) from exc
    except openai.APIStatusError as exc:
        detail = ""
        if 400 <= exc.status_code < 500:
            # The server's own words say which parameter it refused (an unknown model, JSON
            # mode on a server without it); they are about the request, not docrag's secrets.
            detail = f": {str(exc.message)[:300]}"
        raise ChatModelError(
            f"the chat model at {where} answered with HTTP {exc.status_code}{detail}"
        ) from exc
    except (openai.APIError, ValueError, KeyError, TypeError) as exc:
        raise ChatModelError(
            f"the chat model at {where} sent a reply docrag could not read"
        ) from exc
    except httpx.TimeoutException as exc:
        raise ChatModelTimeout(
            f"the chat model at {where} stopped sending in the middle of its answer; try "
            "again, or raise DOCRAG_LLM__TIMEOUT_S"
        ) from exc
    except httpx.HTTPError as exc:
        raise ChatModelError(
            f"the chat model at {where} broke off its answer ({type(exc).__name__})"
        ) from exc
