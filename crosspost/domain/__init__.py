"""Pure domain logic: standard library only, no I/O. Most unit tests live here."""
