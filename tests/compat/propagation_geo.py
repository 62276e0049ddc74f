"""The GEO steps of test_propagation_diff.py's corpus (same syntax, checked against
redis-server 7.0.15 first). GEOADD is logged as the ZADD it turns into (scores are the
geohashes); GEORADIUS[BYMEMBER] log themselves only with STORE / STOREDIST, and like
GEOSEARCHSTORE only when the destination changed (an empty result deletes it).
"""

from __future__ import annotations

GEO: dict[str, list[str | tuple[str, ...]]] = {
    "geoadd: logged as ZADD with the geohash scores and the options given": [
        "+ GEOADD g 13.361389 38.115556 Palermo 15.087269 37.502669 Catania",
        "- GEOADD g NX 13.361389 38.115556 Palermo", "- GEOADD g 13.361389 38.115556 Palermo",
        "+ GEOADD g ch XX 13 38 Palermo 1 1 nobody", "- GEOADD g XX 1 1 nobody",
        "! GEOADD g 200 1 x", "! GEOADD g NX XX 1 1 x", "! GEOADD g 1 1",
        "+ SET s x", "! GEOADD s 1 1 m"],
    "georadius and georadiusbymember: only STORE and STOREDIST write": [
        "+ GEOADD g 13.361389 38.115556 Palermo 15.087269 37.502669 Catania",
        "- GEORADIUS g 15 37 200 km", "+ GEORADIUS g 15 37 200 km STORE d",
        "+ GEORADIUS g 15 37 200 km STOREDIST d ASC COUNT 1",
        "- GEORADIUS missing 15 37 200 km STORE nothere",
        "+ GEORADIUS missing 15 37 200 km STORE d", "- EXISTS d",
        "! GEORADIUS g 15 37 200 km STORE d WITHDIST",
        "- GEORADIUSBYMEMBER g Palermo 200 km",
        "+ GEORADIUSBYMEMBER g Palermo 200 km STORE d",
        "+ GEORADIUSBYMEMBER g Palermo 1 m STOREDIST e",
        "+ GEORADIUSBYMEMBER g Palermo 0 m STORE e", "- GEORADIUSBYMEMBER missing x 1 km STORE f",
        "! GEORADIUSBYMEMBER g nobody 1 km STORE d"],
    "geosearchstore": [
        "+ GEOADD g 13.361389 38.115556 Palermo 15.087269 37.502669 Catania",
        "+ GEOSEARCHSTORE d g FROMMEMBER Palermo BYRADIUS 200 km",
        "+ GEOSEARCHSTORE d g FROMLONLAT 15 37 BYBOX 400 400 km STOREDIST COUNT 1",
        "- GEOSEARCHSTORE nothere g FROMLONLAT 0 0 BYRADIUS 1 m",
        "+ GEOSEARCHSTORE d g FROMLONLAT 0 0 BYRADIUS 1 m", "- EXISTS d",
        "- GEOSEARCHSTORE d missing FROMLONLAT 0 0 BYRADIUS 1 m",
        "! GEOSEARCHSTORE d g FROMLONLAT 0 0 BYRADIUS 1 m WITHDIST"],
    "geo in a transaction": [
        "- MULTI", "- GEOADD g 1 1 a 2 2 b", "- GEOSEARCHSTORE d g FROMMEMBER a BYRADIUS 500 km",
        "+ EXEC"],
}
