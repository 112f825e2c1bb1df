"""Puts state into a Sydent database the way Sydent itself writes it, for the Matrix mode's tests.

Run with the Python of Sydent's virtual environment (scripts/sydent-for-tests makes it):

    SYDENT_CONF=sydent.conf python provision.py < operations.json

`operations.json` is a JSON list of operations, done in order:

    {"op": "token", "user_id": "@app:example.org", "token": "..."}
        an account and identity-server access token (what `/account/register` makes)
    {"op": "bind", "medium": "email", "address": "ana@example.org", "mxid": "@ana:example.org"}
        a threepid association: Sydent's own binder (the local association, signed, then pushed
        into the global table with its lookup hash) -- what a validated `/3pid/bind` stores
    {"op": "unbind", "medium": "email", "address": "ana@example.org", "mxid": "@ana:example.org"}
        the association removed, as `/3pid/unbind` removes it (and the global row with it)
    {"op": "pepper", "pepper": "..."}
        a new lookup pepper, every stored lookup hash re-hashed (Sydent's hashing-metadata store);
        a running Sydent keeps the pepper it started with, so the caller restarts it

The database is created (schema and a first pepper) on first use: constructing `Sydent` does that,
as when the server starts; nothing listens, as nothing here calls `run()`.
"""

import json
import os
import sys

from sydent.config import SydentConfig
from sydent.db.accounts import AccountStore
from sydent.db.hashing_metadata import HashingMetadataStore
from sydent.sydent import Sydent
from sydent.threepid.bind import ThreepidBinder
from sydent.util import time_msec
from sydent.util.hash import sha256_and_url_safe_base64


async def _no_homeserver_notice(self, assoc, attempt):
    """The binder tells the user's homeserver of a new binding; the tests run no homeserver."""


def main() -> None:
    operations = json.load(sys.stdin)
    config = SydentConfig()
    config.parse_config_file(os.environ["SYDENT_CONF"])
    sydent = Sydent(config)
    ThreepidBinder._notify = _no_homeserver_notice
    accounts = AccountStore(sydent)
    for op in operations:
        kind = op["op"]
        if kind == "token":
            accounts.storeAccount(op["user_id"], time_msec(), None)
            accounts.addToken(op["user_id"], op["token"])
        elif kind == "bind":
            sydent.threepidBinder.addBinding(op["medium"], op["address"], op["mxid"])
        elif kind == "unbind":
            threepid = {"medium": op["medium"], "address": op["address"]}
            sydent.threepidBinder.removeBinding(threepid, op["mxid"])
        elif kind == "pepper":
            HashingMetadataStore(sydent).store_lookup_pepper(
                sha256_and_url_safe_base64, op["pepper"]
            )
        else:
            raise SystemExit("unknown operation: %r" % (kind,))
    sydent.db.close()
    print("ok: %d operation(s)" % len(operations))


if __name__ == "__main__":
    main()
