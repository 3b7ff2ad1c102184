"""Staff admin for requests and the data-store registry."""
