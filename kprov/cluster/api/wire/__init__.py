"""Wire formats: Kubernetes protobuf in and out, Go's JSON and base64 to the byte, and bounded
decoding of request bodies.
"""
