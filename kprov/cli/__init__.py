"""Typer command-line interface: parse, call, render. No logic lives here."""
