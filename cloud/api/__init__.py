"""The HTTP API (routers, dependencies, response models) and the console pages."""
