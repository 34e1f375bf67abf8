"""Media through Mastodon.py: uploads, descriptions, focus points and thumbnails, posting with
attachments, delete-and-redraft, avatars and headers, and the files served under /system/."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import zlib

import pytest
import requests
from mastodon import MastodonAPIError

from support import Server, assert_error, text_of


def png(width: int, height: int, colour: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    """An RGB PNG of one colour, with a checkered pattern so it compresses like an image."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = bytearray()
    for y in range(height):
        rows.append(0)
        for x in range(width):
            shade = 0 if (x // 8 + y // 8) % 2 else 40
            rows.extend(max(0, c - shade) for c in colour)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(rows))) + chunk(b"IEND", b"")


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", data[:16]
    return struct.unpack(">II", data[16:24])


def fetch(url: str) -> requests.Response:
    response = requests.get(url, timeout=10)
    assert response.status_code == 200, (url, response.status_code)
    return response


def test_a_photo_is_uploaded_described_and_posted(alice, bob):
    media = alice.api.media_post(png(800, 600), mime_type="image/png", description="A red square", focus=(0.25, -0.5))
    assert media["type"] == "image" and media["description"] == "A red square", media
    assert media["meta"]["original"]["width"] == 800 and media["meta"]["focus"] == {"x": 0.25, "y": -0.5}, media
    assert "/system/media_attachments/files/" in media["url"], media
    served = fetch(media["url"])
    assert served.headers["content-type"] == "image/png" and png_size(served.content) == (800, 600)
    assert png_size(fetch(media["preview_url"]).content)[0] < 800

    media = alice.api.media_update(media, description="A red rectangle")
    assert media["description"] == "A red rectangle"
    status = alice.api.status_post("with a photo", media_ids=[media])
    attached = status["media_attachments"]
    assert [str(a["id"]) for a in attached] == [str(media["id"])] and attached[0]["description"] == "A red rectangle"
    seen = bob.api.status(status["id"])
    assert seen["media_attachments"][0]["url"] == media["url"]
    # Attached, it is no longer the uploader's to change on its own.
    with pytest.raises(MastodonAPIError) as refused:
        alice.api.media_update(media, description="changed")
    assert refused.value.args[1] == 404


def test_only_text_is_optional_with_media_and_four_is_the_most(alice):
    uploads = [alice.api.media_post(png(32, 32), mime_type="image/png") for _ in range(5)]
    status = alice.api.status_post(None, media_ids=uploads[:4])
    assert len(status["media_attachments"]) == 4 and text_of(status["content"]) == ""
    response = alice.http.post("/api/v1/statuses", data={"media_ids[]": [str(m["id"]) for m in uploads]})
    assert_error(response, 422)


def test_delete_and_redraft_keeps_the_attachment(alice):
    media = alice.api.media_post(png(64, 64), mime_type="image/png")
    status = alice.api.status_post("first draft", media_ids=[media])
    deleted = alice.api.status_delete(status)
    assert str(deleted["media_attachments"][0]["id"]) == str(media["id"])
    again = alice.api.status_post("second draft", media_ids=[media])
    assert again["media_attachments"][0]["url"] == media["url"]
    response = alice.http.delete(f"/api/v1/statuses/{again['id']}", params={"delete_media": "true"})
    assert response.status_code == 200, response.text
    with pytest.raises(MastodonAPIError):
        alice.api.status_post("third draft", media_ids=[media])


def test_files_that_are_no_images_are_refused(alice):
    with pytest.raises(MastodonAPIError) as refused:
        alice.api.media_post(b"<svg xmlns='http://www.w3.org/2000/svg'/>", mime_type="image/png", file_name="x.png")
    assert refused.value.args[1] == 422
    response = alice.http.post("/api/v2/media", data={"description": "no file"})
    assert_error(response, 422)


def test_avatar_and_header(server: Server, make_user):
    user = make_user("portrait")
    me = user.api.account_update_credentials(
        display_name="Portrait",
        avatar=png(500, 300),
        avatar_mime_type="image/png",
        header=png(3000, 1000, (40, 40, 200)),
        header_mime_type="image/png",
    )
    assert me["display_name"] == "Portrait"
    assert "/system/accounts/avatars/" in me["avatar"] and me["avatar_static"] == me["avatar"], me
    assert png_size(fetch(me["avatar"]).content) == (400, 400)
    assert png_size(fetch(me["header"]).content) == (1500, 500)
    assert user.api.account(user.id)["avatar"] == me["avatar"]
    actor = requests.get(server.url(f"/users/{user.username}"), headers={"Accept": "application/activity+json"}, timeout=10).json()
    assert actor["icon"]["url"] == me["avatar"] and actor["image"]["url"] == me["header"], actor

    # A refused image changes nothing.
    response = user.http.patch(
        "/api/v1/accounts/update_credentials",
        data={"display_name": "Changed"},
        files={"avatar": ("a.png", b"<html></html>", "image/png")},
    )
    assert_error(response, 422)
    assert user.api.account_verify_credentials()["display_name"] == "Portrait"

    # Removed: back to the default images.
    response = user.http.delete("/api/v1/profile/avatar")
    assert response.status_code == 200, response.text
    assert response.json()["avatar"].endswith("/avatars/original/missing.png")
    me = user.api.account_verify_credentials()
    assert me["avatar"].endswith("/avatars/original/missing.png") and "/system/accounts/headers/" in me["header"]


def ffmpeg_made(inputs: list[str], args: list[str], suffix: str, tmp_path) -> bytes:
    """A file ffmpeg makes from its test sources (skipped without ffmpeg, except in CI)."""
    if shutil.which("ffmpeg") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("ffmpeg must be installed in CI")
        pytest.skip("ffmpeg is not installed")
    out = tmp_path / f"made{suffix}"
    command = ["ffmpeg", "-v", "error", "-y"]
    for source in inputs:
        command += ["-f", "lavfi", "-i", source]
    subprocess.run(command + args + [str(out)], check=True)
    return out.read_bytes()


def test_video_audio_and_gifv(alice, tmp_path):
    clip = ffmpeg_made(
        ["testsrc=duration=1:size=320x240:rate=25", "sine=frequency=440:duration=1"],
        ["-c:v", "mpeg4", "-c:a", "pcm_s16le", "-shortest"],
        ".mov",
        tmp_path,
    )
    # Mastodon.py waits for the worker to process it (GET answers 206 until then).
    video = alice.api.media_post(clip, mime_type="video/quicktime", description="test card", synchronous=True)
    assert video["type"] == "video" and video["url"].endswith(".mp4"), video
    served = fetch(video["url"])
    assert served.headers["content-type"] == "video/mp4"
    assert png_size(fetch(video["preview_url"]).content) == (320, 240)
    status = alice.api.status_post("a video", media_ids=[video])
    assert status["media_attachments"][0]["type"] == "video"

    gif = ffmpeg_made(["testsrc=duration=0.5:size=96x64:rate=10"], [], ".gif", tmp_path)
    gifv = alice.api.media_post(gif, mime_type="image/gif", synchronous=True)
    assert gifv["type"] == "gifv" and fetch(gifv["url"]).headers["content-type"] == "video/mp4", gifv

    tone = ffmpeg_made(["sine=frequency=220:duration=2"], [], ".wav", tmp_path)
    audio = alice.api.media_post(tone, mime_type="audio/wav", synchronous=True)
    assert audio["type"] == "audio" and fetch(audio["url"]).headers["content-type"] == "audio/mpeg", audio
    assert abs(audio["meta"]["duration"] - 2.0) < 0.2, audio


def test_custom_emoji_imported_listed_used_and_federated(server: Server, alice, tmp_path):
    import io
    import tarfile

    archive = tmp_path / "emoji.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name, data in [
            ("blobcat.png", png(64, 64, (250, 200, 0))),
            ("party_parrot.png", png(32, 32, (0, 200, 250))),
            ("huge.png", png(400, 400) + bytes(300 * 1024)),
            ("readme.txt", b"not an image"),
        ]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    result = server.cli("emoji", "import", str(archive), "--prefix", "t_", "--category", "Test")
    assert "Imported 2, skipped 0, failed to import 1" in result.stdout, result.stdout
    again = server.cli("emoji", "import", str(archive), "--prefix", "t_")
    assert "Imported 0, skipped 2" in again.stdout, again.stdout

    emojis = {e["shortcode"]: e for e in alice.api.custom_emojis()}
    assert {"t_blobcat", "t_party_parrot"} <= set(emojis), emojis
    blob = emojis["t_blobcat"]
    assert blob["category"] == "Test" and blob["visible_in_picker"] is True
    assert png_size(fetch(blob["url"]).content) == (64, 64)
    assert png_size(fetch(blob["static_url"]).content) == (64, 64)

    status = alice.api.status_post("hello :t_blobcat: and :t_unknown: and x:t_blobcat:")
    assert [e["shortcode"] for e in status["emojis"]] == ["t_blobcat"], status["emojis"]
    assert status["emojis"][0]["url"] == blob["url"]
    note = requests.get(status["uri"], headers={"Accept": "application/activity+json"}, timeout=10).json()
    emoji_tags = [t for t in note["tag"] if t["type"] == "Emoji"]
    assert emoji_tags and emoji_tags[0]["name"] == ":t_blobcat:" and emoji_tags[0]["icon"]["url"] == blob["url"], note

    # In a display name and a bio too, and in the actor other servers read.
    me = alice.api.account_update_credentials(display_name="Alice :t_party_parrot:", note="blob :t_blobcat:")
    assert sorted(e["shortcode"] for e in me["emojis"]) == ["t_blobcat", "t_party_parrot"], me["emojis"]
    assert [e["shortcode"] for e in alice.api.account(alice.id)["emojis"]] != []
    actor = requests.get(me["uri"], headers={"Accept": "application/activity+json"}, timeout=10).json()
    assert sorted(t["name"] for t in actor["tag"] if t["type"] == "Emoji") == [":t_blobcat:", ":t_party_parrot:"], actor
