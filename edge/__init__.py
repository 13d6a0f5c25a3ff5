"""What the HTTP edges share (webhooks/, public/, console/ and serving/ sit above it and it imports none of
them): who may call (auth), whom a request counts against and its rate limits (clients, limits,
limitstore), and log lines without secrets or link tokens (logs).

gunicorn's master imports serving/, which imports edge.clients and edge.logs: nothing here may import at
module level what gevent must patch first (the app, psycopg, urllib3, redis).
"""
