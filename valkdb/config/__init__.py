"""valkdb's settings: every one of Redis 7.0's, declared once, and the values currently in force.

  table.py    the declarations (SETTINGS): name, alias, kind, default, range, mutability, help
  setting.py  what a kind means: parsing with Redis's exact errors, CONFIG GET's form, REWRITE's
  special.py  the settings with rules of their own (save, bind, client-output-buffer-limit ...)
  parsing.py  Redis's number parsers and quoting, corner cases included
  state.py    Config: the current values; config files and the command line
  rewrite.py  CONFIG REWRITE;  users.py: the `user` directive before valkdb has ACLs
"""

from valkdb.config.errors import ConfigError, ConfigFileError
from valkdb.config.setting import Setting, parse_memory
from valkdb.config.special import DEFAULT_OUTPUT_LIMITS
from valkdb.config.state import Config
from valkdb.config.table import BY_NAME, SETTINGS

__all__ = ["BY_NAME", "DEFAULT_OUTPUT_LIMITS", "SETTINGS", "Config", "ConfigError",
           "ConfigFileError", "Setting", "parse_memory"]
