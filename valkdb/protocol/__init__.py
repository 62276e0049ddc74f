"""RESP, sans-I/O: request bytes -> argument lists (reader), replies -> bytes (encoder).

Nothing here touches a socket or imports the rest of valkdb.
"""
