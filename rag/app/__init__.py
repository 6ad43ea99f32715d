"""The browser app: server, layout, handlers, rendering, documents, access, the HTTP API, static files."""
