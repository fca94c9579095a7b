"""A small payments API written for the `make run` demo of `sakimori probe`.

It has two deliberate flaws (a SQL query and a shell command built from request data) and the
same operations done safely, so the report shows what the engine follows and what it lets pass.
Do not deploy it.
"""

import sqlite3
import subprocess

from flask import Flask, request

app = Flask(__name__)


def database():
    return sqlite3.connect("payments.db")


@app.route("/payments")
def payments_by_account():
    account = request.args.get("account", "")
    query = f"SELECT id, amount FROM payments WHERE account = '{account}'"  # flaw: CWE-89
    return {"payments": database().execute(query).fetchall()}


@app.route("/payments/safe")
def payments_by_account_safely():
    account = request.args.get("account", "")
    rows = database().execute("SELECT id, amount FROM payments WHERE account = ?", (account,))
    return {"payments": rows.fetchall()}


@app.route("/statements/archive", methods=["POST"])
def archive_statement():
    month = request.form["month"]
    subprocess.run(f"tar czf /srv/archive/{month}.tgz /srv/statements/{month}", shell=True)  # flaw: CWE-78
    return {"archived": month}


@app.route("/statements/archive/safe", methods=["POST"])
def archive_statement_safely():
    month = int(request.form["month"])
    subprocess.run(["tar", "czf", f"/srv/archive/{month}.tgz", f"/srv/statements/{month}"])
    return {"archived": month}
