"""gunicorn's access log, masked: `gunicorn --logger-class config.access_log.MaskedAccessLogger`
(Dockerfile, docker-compose.yml). Each field of the line (the request line, the path, the query,
the referer, any header a format names) goes through the same `pii_mask` as every other log line,
so /p/<token>/ is logged as /p/[token]/ and a staff search as ?q=[masked]."""

from __future__ import annotations

from gunicorn.glogging import Logger, SafeAtoms

from .redact import pii_mask


class MaskedAtoms(SafeAtoms):
    # Masked when read, so only the fields the format uses cost anything.
    def __getitem__(self, key: str):
        value = super().__getitem__(key)
        return pii_mask(value) if isinstance(value, str) else value


class MaskedAccessLogger(Logger):
    """gunicorn's own logger, with every access-log field masked (the referer of a page loaded
    from a preferences link carries its token too)."""

    atoms_wrapper_class = MaskedAtoms
