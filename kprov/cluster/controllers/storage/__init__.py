"""Storage controllers: claim/volume binding, the local-path provisioner, and the protection
finalizers of claims and volumes.
"""
