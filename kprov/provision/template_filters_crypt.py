"""``password_hash``, as ansible-core computes it with passlib (kprov's operator always has it:
libpass, the maintained fork, for htpasswd): the same algorithm names, the same implicit
rounds and bcrypt ident, the same salt handling, so a given salt gives Ansible's exact hash
(a user module then sees no change between the two). Without a salt the hash is random, in
both.
"""

from __future__ import annotations

from typing import Any

import passlib.hash
from passlib.utils.binary import bcrypt64
from passlib.utils.handlers import HasRawSalt, PrefixWrapper

__all__ = ["password_hash"]

_NAMES = {"md5": "md5_crypt", "blowfish": "bcrypt", "sha256": "sha256_crypt", "sha512": "sha512_crypt"}
# per algorithm: (rounds when none are given, ident when none is given), ansible-core's values
_IMPLICIT: dict[str, tuple[int | None, str | None]] = {
    "md5_crypt": (None, None), "bcrypt": (12, "2b"),
    "sha256_crypt": (535000, None), "sha512_crypt": (656000, None),
}


def password_hash(password: Any, hashtype: str = "sha512", salt: Any = None, salt_size: Any = None,
                  rounds: Any = None, ident: Any = None) -> str:
    algorithm = _NAMES.get(hashtype, hashtype)
    handler = getattr(passlib.hash, algorithm, None)
    if handler is None:
        raise ValueError(f"passlib does not support '{algorithm}' algorithm")
    implicit_rounds, implicit_ident = _IMPLICIT.get(algorithm, (None, None))
    settings: dict[str, Any] = {}
    if salt:
        raw = issubclass(handler.wrapped if isinstance(handler, PrefixWrapper) else handler, HasRawSalt)
        cleaned: Any = str(salt).encode("ascii") if raw else str(salt)
        if algorithm == "bcrypt":
            cleaned = bcrypt64.repair_unused(cleaned)
        settings["salt"] = cleaned
    if salt_size:
        settings["salt_size"] = salt_size
    if rounds or implicit_rounds:
        settings["rounds"] = rounds or implicit_rounds
    chosen_ident = ident if (ident and algorithm == "bcrypt") else (None if ident else implicit_ident)
    if chosen_ident:
        settings["ident"] = chosen_ident
    try:
        return str(handler.using(**settings).hash(str(password)))
    except ValueError as err:
        raise ValueError(f"Could not hash the secret: {err}") from None
