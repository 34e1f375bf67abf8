#!/usr/bin/env python3
"""Self-test of the Fedify peer without ferrodon: two peers federate with each other.

Run: python3 tests/fedify-peer/selftest.py [rfc9421|draft-cavage-http-signatures-12 ...]
(default: both). Needs Node 20+, npm and the `requests` package. Exit 0 when every check passes.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "acceptance"))
from fedify_peer import FIRST_KNOCKS, FedifyPeer  # noqa: E402

EXPECTED_SCHEME = {"rfc9421": "rfc9421", "draft-cavage-http-signatures-12": "draft-cavage"}


class Checks:
    def __init__(self, label: str):
        self.label = label
        self.passed = 0
        self.failed = 0

    def check(self, name: str, ok: bool, detail: object = "") -> None:
        if ok:
            self.passed += 1
            print(f"  ok   {name}")
        else:
            self.failed += 1
            print(f"  FAIL {name} {detail}")


def scenario(first_knock: str, c: Checks) -> None:
    scheme = EXPECTED_SCHEME[first_knock]
    with FedifyPeer() as a, FedifyPeer() as b:
        t0 = time.monotonic()
        a.start(host="127.0.0.2", first_knock=first_knock)
        b.start(host="127.0.0.3", first_knock=first_knock)
        print(f"  peers up in {time.monotonic() - t0:.1f}s: A={a.origin} B={b.origin}")
        alice, bob = a.actor_uri("alice"), b.actor_uri("bob")

        # A follows B; B accepts automatically.
        follow_id = a.follow("alice", bob)
        got = b.wait_for(lambda r: r["type"] == "Follow" and r["id"] == follow_id, actor="bob")
        c.check("B received A's Follow on bob's inbox", got["inbox"] == "/users/bob/inbox" and got["actor"] == alice, got)
        c.check(f"Follow carried a {scheme} signature", got["signature"]["scheme"] == scheme, got["signature"])
        if scheme == "rfc9421":
            c.check("RFC 9421 headers: Signature-Input + Content-Digest",
                    bool(got["signature"]["signature-input"] and got["signature"]["content-digest"]), got["signature"])
        else:
            c.check("cavage headers: Signature + Digest",
                    "headers=" in (got["signature"]["signature"] or "") and bool(got["signature"]["digest"]), got["signature"])
        accept = a.wait_for("Accept", actor="alice")
        c.check("A received the Accept of its Follow", accept["actor"] == bob and accept["object_id"] == follow_id, accept)
        c.check("B lists A as follower", b.followers("bob") == [alice], b.followers("bob"))
        c.check("A's following is accepted", [f["state"] for f in a.following("alice")] == ["accepted"], a.following("alice"))

        # B posts; the Create reaches A's shared inbox.
        note = b.post("bob", "Hello from <b>", to="public")
        create = a.wait_for(lambda r: r["type"] == "Create" and r["object_id"] == note["id"], actor="alice")
        c.check("A received the Create on its shared inbox", create["inbox"] == "/inbox" and create["id"] == note["activity"], create)
        c.check("Create addressed to Public, cc followers",
                create["to"] == ["https://www.w3.org/ns/activitystreams#Public"] and create["cc"] == [f"{bob}/followers"], create)
        c.check("note content HTML-escaped", create["json"]["object"]["content"] == "<p>Hello from &lt;b&gt;</p>", create["json"]["object"])
        fetched = requests.get(note["id"], headers={"Accept": "application/activity+json"}, timeout=10)
        c.check("the note is served at its id", fetched.status_code == 200 and fetched.json()["id"] == note["id"], fetched.status_code)

        # A likes and announces B's note, then undoes the like.
        like_id = a.like("alice", note["id"])
        like = b.wait_for(lambda r: r["type"] == "Like", actor="bob")
        c.check("B received the Like", like["id"] == like_id and like["object_id"] == note["id"], like)
        announce_id = a.announce("alice", note["id"])
        announce = b.wait_for(lambda r: r["type"] == "Announce", actor="bob")
        c.check("B received the Announce", announce["id"] == announce_id and announce["object_id"] == note["id"], announce)
        undo_id = a.undo("alice", like_id)
        undo = b.wait_for(lambda r: r["type"] == "Undo", actor="bob")
        c.check("B received Undo(Like)", undo["id"] == undo_id and undo["object_type"] == "Like" and undo["object_id"] == like_id, undo)

        # B edits, then deletes the note.
        b.update("bob", note["id"], "edited")
        update = a.wait_for(lambda r: r["type"] == "Update", actor="alice")
        c.check("A received the Update", update["object_id"] == note["id"] and update["json"]["object"]["content"] == "<p>edited</p>", update)
        b.delete("bob", note["id"])
        delete = a.wait_for(lambda r: r["type"] == "Delete", actor="alice")
        c.check("A received Delete(Tombstone)", delete["object_id"] == note["id"] and delete["object_type"] == "Tombstone", delete)
        gone = requests.get(note["id"], headers={"Accept": "application/activity+json"}, timeout=10)
        c.check("the deleted note answers 410", gone.status_code == 410, gone.status_code)

        # A direct note mentioning alice goes to her personal inbox.
        dm = b.post("bob", "psst", to=[alice])
        got_dm = a.wait_for(lambda r: r["type"] == "Create" and r["object_id"] == dm["id"], actor="alice")
        c.check("direct note reached alice's own inbox with a Mention",
                got_dm["inbox"] == "/users/alice/inbox" and got_dm["to"] == [alice]
                and got_dm["json"]["object"]["tag"]["href"] == alice, got_dm)

        # An unsigned POST is refused with 401, and recorded.
        unsigned = requests.post(
            b.inbox_uri("bob"),
            json={"@context": "https://www.w3.org/ns/activitystreams", "id": f"{alice}/fake", "type": "Like",
                  "actor": alice, "object": note["id"]},
            headers={"Content-Type": "application/activity+json"},
            timeout=10,
        )
        c.check("unsigned POST answered 401", unsigned.status_code == 401, unsigned.status_code)
        rec = b.wait_for_request(lambda r: r["body"].find(f"{alice}/fake") >= 0)
        c.check("…and recorded in /_test/requests with status 401 and no signature",
                rec["status"] == 401 and rec["signature"]["scheme"] is None
                and rec["unverified_reason"] == {"type": "noSignature"}, rec)
        c.check("the unsigned activity never reached a listener",
                not any(r["id"] == f"{alice}/fake" for r in b.received()), "")

        # Unfollow removes the follower.
        a.unfollow("alice", bob)
        b.wait_for(lambda r: r["type"] == "Undo" and r["object_type"] == "Follow", actor="bob")
        c.check("Undo(Follow) removed the follower", b.followers("bob") == [], b.followers("bob"))

        statuses = sorted({r["status"] for r in b.requests() + a.requests()})
        c.check("no peer errors", not a.errors() and not b.errors(), a.errors() + b.errors())
        print(f"  inbox requests seen: A={len(a.requests())} B={len(b.requests())}, statuses {statuses}")


def main(argv: list[str]) -> int:
    knocks = argv or list(FIRST_KNOCKS)
    total_passed = total_failed = 0
    for knock in knocks:
        print(f"== firstKnock={knock}")
        c = Checks(knock)
        t0 = time.monotonic()
        try:
            scenario(knock, c)
        except Exception as exc:  # a timeout in wait_for, a control-API error, ...
            c.check("scenario completed", False, f"{type(exc).__name__}: {exc}")
        print(f"  {c.passed} passed, {c.failed} failed in {time.monotonic() - t0:.1f}s")
        total_passed += c.passed
        total_failed += c.failed
    print(f"selftest: {total_passed} passed, {total_failed} failed")
    return 0 if total_failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
