"""HTTP: the OpenTWPS API, health and metrics (docs/http.md), served by the daemon; a face
on the application layer (``ingestd.service``) like the command line."""
