"""Stand-in for the Wait Wait Stats API (version 2), for the wwctl sandbox.

It has the real app's shape (FastAPI, run by Gunicorn with Uvicorn
workers, settings in config.json) and the routes wwctl checks: /health
without the database, /v2.0/shows/count from it, and /version from
version.json.
"""

import json
from pathlib import Path

import pymysql
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

APP_DIR = Path(__file__).resolve().parent.parent

def read_json(name):
    with open(APP_DIR / name, encoding="utf-8") as handle:
        return json.load(handle)


def refuse_broken_release():
    """Fail at start when the release's version begins with `broken`, so the
    sandbox can rehearse a release that does not start."""
    version = str(read_json("version.json").get("version", ""))
    if version.startswith("broken"):
        raise RuntimeError(f"release {version} is broken on purpose and does not start")


refuse_broken_release()
app = FastAPI(title="Wait Wait Stats API (wwctl sandbox stand-in)")


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


@app.get("/health", response_class=PlainTextResponse)
def health():
    return "ok\n"


@app.get("/version", response_class=PlainTextResponse)
def version():
    info = read_json("version.json")
    return f"branch: {info['branch']}\nversion: {info['version']}\n"


@app.get("/v2.0/shows/count", response_class=PlainTextResponse)
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
        return PlainTextResponse(f"database error: {error}\n", status_code=500)
    return f"shows: {count}\nlatest: {latest}\n"
