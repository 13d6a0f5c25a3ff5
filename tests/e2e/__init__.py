"""End-to-end journeys: the service run as deployed (gunicorn web + flask workers) against the vendor fakes."""
