"""Handlers: the REST verbs over resources (get, list, watch, create, update, patch, delete),
subresources, discovery, and the streams proxied to kubelets and pods.
"""
