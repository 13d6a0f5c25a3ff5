"""The baseline: JustClick's PHP sample translated into twenty lines of Flask (one connection per call)."""

import hashlib
import os
from urllib.parse import urlencode

import requests
from flask import Flask, request

app = Flask(__name__)
LOGIN, SECRET = os.environ["JUSTCLICK_LOGIN"], os.environ["JUSTCLICK_SECRET"]
URL = os.environ["JUSTCLICK_API_URL"].replace("{login}", LOGIN) + "DeleteSubscribe"
post = requests.post  # pooled_forwarder.py swaps in one requests.Session().post


@app.post("/hook")
def hook():
    data = {"lead_email": request.form["email"], "rass_name": os.environ.get("JUSTCLICK_GROUP", "Main")}
    data["hash"] = hashlib.md5(f"{urlencode(data)}::{LOGIN}::{SECRET}".encode()).hexdigest()
    resp = post(URL, data=data, timeout=10).json()
    check = hashlib.md5(f"{resp['error_code']}::{resp['error_text']}::{SECRET}".encode()).hexdigest()
    if check != resp["hash"]:
        return {"error": "bad hash"}, 502
    return {"status": "ok" if resp["error_code"] == 0 else "error", "code": resp["error_code"]}
