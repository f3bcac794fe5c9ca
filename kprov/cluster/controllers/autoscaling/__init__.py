"""The horizontal pod autoscaler: its controller, its replica arithmetic and its behavior rules.
"""
