"""Stand-in for Wait Wait Stats Graphs, for the wwctl sandbox.

It has the real app's shape (a Flask factory run by Gunicorn, settings in
config.json) and the pages wwctl checks: /health without the database,
/shows/count from it, and /version from version.json.
"""

import json
from pathlib import Path

import pymysql
from flask import Flask, Response

APP_DIR = Path(__file__).resolve().parent.parent


def read_json(name):
    with open(APP_DIR / name, encoding="utf-8") as handle:
        return json.load(handle)


def connect():
    """Open a connection with the settings in config.json."""
    settings = read_json("config.json")["database"]
    options = {
        "user": settings["user"],
        "password": settings.get("password", ""),
        "database": settings["database"],
        "connect_timeout": 5,
    }
    if settings.get("unix_socket"):
        options["unix_socket"] = settings["unix_socket"]
    else:
        options["host"] = settings.get("host", "localhost")
        options["port"] = int(settings.get("port", 3306))
    return pymysql.connect(**options)


def text(body, status=200):
    return Response(body, status=status, mimetype="text/plain")


def refuse_broken_release():
    """Fail at start when the release's version begins with `broken`, so the
    sandbox can rehearse a release that does not start."""
    version = str(read_json("version.json").get("version", ""))
    if version.startswith("broken"):
        raise RuntimeError(f"release {version} is broken on purpose and does not start")


def create_app():
    refuse_broken_release()
    app = Flask(__name__)

    @app.get("/health")
    def health():
        return text("ok\n")

    @app.get("/version")
    def version():
        info = read_json("version.json")
        return text(f"branch: {info['branch']}\nversion: {info['version']}\n")

    @app.get("/shows/count")
    def shows_count():
        try:
            connection = connect()
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT COUNT(*), MAX(showdate) FROM ww_shows")
                    count, latest = cursor.fetchone()
            finally:
                connection.close()
        except Exception as error:  # any database failure is a 500
            return text(f"database error: {error}\n", status=500)
        return text(f"shows: {count}\nlatest: {latest}\n")

    return app
