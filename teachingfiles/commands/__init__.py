"""Subcommands of the ``teachingfiles`` command, one module each.

Each module defines ``register(subparsers)`` which adds its parser and sets the
``func`` default to a callable taking the parsed arguments and returning an exit
status.
"""
