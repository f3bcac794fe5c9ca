"""PATCH and server-side apply: JSON patch, merge patch, strategic merge patch, and field
ownership (managedFields).
"""
