"""The absolute ceiling: a Flask endpoint that reads the body and answers."""

from flask import Flask, request

app = Flask(__name__)


@app.post("/hook")
def hook():
    request.get_data()
    return {"status": "ok"}
