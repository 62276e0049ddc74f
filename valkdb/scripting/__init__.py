"""Lua scripting and functions (EVAL, FUNCTION, FCALL) on Lua 5.1 through lupa."""
