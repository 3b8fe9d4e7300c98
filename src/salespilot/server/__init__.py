"""The server: the web dashboard and the REST API over one store (``salespilot serve``)."""
