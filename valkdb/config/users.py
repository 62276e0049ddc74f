"""The `user` directive, as far as valkdb can honour it before it has ACLs.

Redis writes the default user's ACL line into every file CONFIG REWRITE produces (`user default on
nopass ~* &* +@all`, or with `#<sha256>` once requirepass is set), so valkdb must read such files.
It accepts a `user` line only when requirepass says the same thing: the default user, every
permission, and no password or requirepass's own. Anything else is refused at start-up, so that
valkdb never runs more open than the file asks.
"""

from __future__ import annotations

import hashlib

from valkdb.config.errors import ConfigError

_EVERYTHING = {"on", "~*", "&*", "+@all", "allkeys", "allchannels", "allcommands", "nopass",
               "sanitize-payload", "skip-sanitize-payload"}


def _digest(password: str) -> str:
    return hashlib.sha256(password.encode("utf-8", "surrogateescape")).hexdigest()


def check_user(words: list[str], requirepass: str) -> None:
    """`user <name> <rules...>` (without the directive); ConfigError unless valkdb can honour it."""
    name, rules = words[0], words[1:]
    for rule in rules:
        lowered = rule.lower()
        if name == "default" and (
                lowered in _EVERYTHING
                or requirepass and (rule == ">" + requirepass or lowered == "#" + _digest(
                    requirepass))):
            continue
        raise ConfigError(f"Error in user declaration '{rule if name == 'default' else name}': "
                          "valkdb has no ACL users yet, only the default user with all "
                          "permissions and requirepass's password")


def default_user_line(requirepass: str) -> str:
    """The line Redis writes for a default user that only requirepass has changed."""
    password = "#" + _digest(requirepass) if requirepass else "nopass"
    return f"user default on {password} ~* &* +@all"
