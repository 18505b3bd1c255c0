"""Triage: decide what each stored message is, by an ordered table of rules (see rules.py)."""
