"""Modules over files: copy, template, file, lineinfile, blockinfile, replace, ini_file, stat,
slurp, find, unarchive, get_url, and what they share (placing a file, its times, text edits).
"""
