"""Validation of objects on create and update, one module per API area, worded as kube-apiserver
words it (field paths and messages of 422 causes).
"""
