"""The two exceptions of configuration: a refused value, and a bad line of a file or command
line."""

from __future__ import annotations


class ConfigError(Exception):
    """A value that cannot be set; args[0] is Redis's reason text."""


class ConfigFileError(ConfigError):
    """A bad line in a config file or on the command line, reported as redis-server does."""

    def __init__(self, reason: str, line: str, where: str) -> None:
        super().__init__(reason)
        self.line = line
        self.where = where  # "at line 3" / "of the command line"

    def fatal_text(self, version: str) -> str:
        """redis-server's start-up message for a bad config line (printed to stderr)."""
        return (f"\n*** FATAL CONFIG FILE ERROR (valkdb {version}) ***\n"
                f"Reading the configuration file, {self.where}\n>>> '{self.line}'\n{self.args[0]}")
