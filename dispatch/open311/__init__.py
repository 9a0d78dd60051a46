"""Open311 GeoReport v2: the spec's documents (`spec`), the API at /open311/v2 (`web`) and the
API keys of the systems that call it (`apikeys`).
"""
