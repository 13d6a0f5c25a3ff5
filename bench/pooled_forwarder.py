"""The naive forwarder with one pooled requests.Session: the practical ceiling for Flask plus requests."""

import requests

from bench import naive_forwarder

naive_forwarder.post = requests.Session().post
app = naive_forwarder.app
