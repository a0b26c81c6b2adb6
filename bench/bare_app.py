"""The ceiling for intake: a bare Flask endpoint doing one insert into the same store.

Served by gunicorn with the same worker settings as the intake API, so the ratio between the two
shows what intake's validation, domain rules, outbox and indexes cost.
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime

from flask import Flask, jsonify, request
from pymongo import MongoClient


def create_app() -> Flask:
    """A one-route app: POST /bare inserts the JSON body and answers 201."""
    app = Flask(__name__)
    client = MongoClient(os.environ["MONGODB_URI"], serverSelectionTimeoutMS=2000)
    collection = client[os.environ.get("BARE_DB", "bench_bare")]["docs"]

    @app.post("/bare")
    def bare():
        doc = {"_id": uuid.uuid4().hex, "at": datetime.now(UTC), **(request.get_json() or {})}
        collection.insert_one(doc)
        return jsonify({"id": doc["_id"]}), 201

    return app
