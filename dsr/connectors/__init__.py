"""Connectors: how the portal reaches each registered data store.

Every connector implements :class:`dsr.connectors.base.Connector`; the registry row names its
class by dotted path (``DataStore.connector``), like Django's storage and cache backends.
"""
