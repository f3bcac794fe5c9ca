"""Pod volumes on the node: their contents written atomically, subPaths, fsGroup ownership,
projected ServiceAccount tokens, and local-path cleanup.
"""
