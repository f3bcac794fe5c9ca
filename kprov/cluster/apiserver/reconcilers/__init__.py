"""The API server's own reconcilers that write through the handlers' storage path: the
custom resources it serves (CRDs' Established condition, their objects' cleanup) and the
APIService availability controller. They sit above the handlers they write through.
"""
