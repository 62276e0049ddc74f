"""The execution core: contexts, dispatch, the propagation bus, the command table, blocking
and pub/sub (DESIGN.md).
"""
